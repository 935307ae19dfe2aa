-- PostgreSQL. The batch is committed to the lake: its files, where still held, are done for good.
UPDATE newslake.claims
SET done_at = now(), lease_until = NULL
WHERE batch = %(batch)s AND done_at IS NULL
RETURNING path, size, mtime_ns
