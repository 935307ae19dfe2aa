-- PostgreSQL. The processes on one host that hold running leases: candidates to be found dead.
SELECT DISTINCT holder_pid, holder_started
FROM newslake.claims
WHERE holder_host = %(host)s AND done_at IS NULL AND lease_until > now()
