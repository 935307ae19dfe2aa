-- The DuckLake snapshot a commit created, found by the commit id we stamped on it.
SELECT max(snapshot_id)
FROM lake.snapshots()
WHERE commit_extra_info = $commit_info
