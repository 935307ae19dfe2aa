-- PostgreSQL. How many other writers of this database are running now: each holds its run's advisory
-- lock (tasks.claims.hold_run: two keys, the run lock class and the run id's hash) in its own session
-- for as long as it lives. This session's own run lock, if it holds one, is not counted.
SELECT count(*)
FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::bigint = %(run_lock_class)s
  AND pid <> pg_backend_pid()
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
