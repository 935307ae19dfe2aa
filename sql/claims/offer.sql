-- PostgreSQL. Files a writer found to do; a file version already offered (by it or another writer,
-- claimed or done) stays as it is.
INSERT INTO newslake.claims (path, size, mtime_ns)
SELECT * FROM unnest(%(paths)s::text[], %(sizes)s::bigint[], %(mtimes_ns)s::bigint[])
ON CONFLICT DO NOTHING
