-- What discovery needs to skip unchanged files: every (path, size, mtime) and (path, sha256) seen.
SELECT path, size, mtime_ns, sha256
FROM lake.files
