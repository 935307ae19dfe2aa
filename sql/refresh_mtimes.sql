-- Files touched without a change of content: remember the new mtime so the next scan skips them
-- without hashing.
UPDATE lake.files AS f
SET mtime_ns = t.mtime_ns, size = t.size
FROM batch_touched AS t
WHERE f.path = t.path AND f.sha256 = t.sha256
