-- The records of one multi-record file (JSONL, JSON array, feed, WARC) the lake already holds:
-- their paths are `<container path>#<n>`.
SELECT f.path, f.sha256
FROM lake.files AS f
WHERE starts_with(f.path, $container || '#') AND f.sha256 IS NOT NULL
