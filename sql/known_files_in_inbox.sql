-- What discovery needs to skip unchanged files, for the paths now in the inbox (`inbox_paths`:
-- path) only: (path, size, mtime_ns) and (path, sha256) of every file seen there. A lake of a
-- million files costs one scan of `files.path` here, not a million rows brought into Python.
SELECT f.path, f.size, f.mtime_ns, f.sha256
FROM lake.files AS f
WHERE f.path IN (SELECT path FROM inbox_paths)
