-- PostgreSQL. Extend the lease of the files of a batch that its holder still holds.
UPDATE newslake.claims
SET lease_until = now() + make_interval(secs => %(lease_seconds)s)
WHERE batch = %(batch)s AND done_at IS NULL
RETURNING path, size, mtime_ns
