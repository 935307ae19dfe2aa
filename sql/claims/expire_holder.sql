-- PostgreSQL. End the leases of a process known to be dead: its files are free to claim at once.
UPDATE newslake.claims
SET lease_until = now()
WHERE holder_host = %(host)s AND holder_pid = %(pid)s AND holder_started IS NOT DISTINCT FROM %(started)s
  AND done_at IS NULL AND lease_until > now()
