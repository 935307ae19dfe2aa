-- PostgreSQL. How many other writers are at work on this lake now: the processes other than this one
-- that hold files under a running lease and have not committed them. A writer at work always holds
-- one: it claims its next batch before it commits the last.
SELECT count(DISTINCT (holder_host, holder_pid, holder_started))
FROM newslake.claims
WHERE done_at IS NULL AND lease_until > now()
  AND (holder_host, holder_pid, holder_started) IS DISTINCT FROM (%(host)s, %(pid)s, %(started)s)
