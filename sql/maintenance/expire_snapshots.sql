-- Forget snapshots older than the retention cutoff: time travel reaches back to $cutoff, no further.
-- The current snapshot is never expired.
CALL ducklake_expire_snapshots('lake', older_than => $cutoff)
