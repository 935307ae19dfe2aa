-- How many files of an inbox scan (`inbox_files`: path, size, mtime_ns) the lake has not seen as
-- they are now: 0 means a run would have nothing to do.
SELECT count(*)
FROM inbox_files AS i
WHERE NOT EXISTS (
    SELECT 1 FROM lake.files AS f
    WHERE f.path = i.path AND f.size = i.size AND f.mtime_ns = i.mtime_ns
)
