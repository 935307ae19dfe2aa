-- PostgreSQL. Where the offered files stand: done, held under a running lease, free to claim.
SELECT count(*) FILTER (WHERE done_at IS NOT NULL) AS done,
       count(*) FILTER (WHERE done_at IS NULL AND lease_until > now()) AS held,
       count(*) FILTER (WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until <= now())) AS free
FROM newslake.claims
