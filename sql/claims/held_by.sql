-- PostgreSQL. The files one process holds under a running lease and has not committed, by batch:
-- what a writer claimed before its flow started (the CLI's read-ahead) is the flow's to finish.
SELECT batch, path, size, mtime_ns
FROM newslake.claims
WHERE holder_host = %(host)s AND holder_pid = %(pid)s AND holder_started IS NOT DISTINCT FROM %(started)s
  AND done_at IS NULL AND lease_until > now()
ORDER BY batch, path, size, mtime_ns
