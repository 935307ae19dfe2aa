-- PostgreSQL. The holder gives a batch up without committing it: its files are free to claim at once.
UPDATE newslake.claims
SET lease_until = now()
WHERE batch = %(batch)s AND done_at IS NULL AND lease_until > now()
