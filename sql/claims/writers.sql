-- PostgreSQL. The other writers at work on this lake now, the files they hold, and the files this
-- process holds. A writer at work is a process that has announced itself (announce.sql: a lock its
-- sessions hold, from before it looks at the inbox) or that holds files under a running lease it has
-- not committed. Both are keyed by the hash of the process's host, pid and start time; advisory lock
-- keys show in pg_locks as unsigned.
WITH holders AS (
    SELECT hashtext(concat_ws(':', holder_host, holder_pid, holder_started))::bigint & 4294967295 AS writer,
           count(*) AS files
    FROM newslake.claims
    WHERE done_at IS NULL AND lease_until > now()
    GROUP BY 1
),
announced AS (
    SELECT DISTINCT objid::bigint AS writer
    FROM pg_locks
    WHERE locktype = 'advisory' AND classid::bigint = %(class)s AND objsubid = 2 AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
),
writers AS (
    SELECT writer, files FROM holders
    UNION ALL
    SELECT writer, 0 FROM announced
),
this_process AS (
    SELECT hashtext(concat_ws(':', %(host)s::text, %(pid)s::int, %(started)s::bigint))::bigint & 4294967295 AS writer
)
SELECT count(DISTINCT w.writer) FILTER (WHERE w.writer <> p.writer),
       coalesce(sum(w.files) FILTER (WHERE w.writer <> p.writer), 0)::bigint,
       coalesce(sum(w.files) FILTER (WHERE w.writer = p.writer), 0)::bigint
FROM writers AS w, this_process AS p
