-- PostgreSQL. Hand up to `limit` files that are not done and not under a running lease to one
-- holder, in path order, as one numbered batch. SKIP LOCKED: writers claiming at the same moment each
-- take other rows instead of waiting for each other's transaction.
WITH grant_number AS (SELECT nextval('newslake.claim_batches') AS batch),
picked AS (
    SELECT path, size, mtime_ns
    FROM newslake.claims
    WHERE done_at IS NULL AND (lease_until IS NULL OR lease_until <= now())
    ORDER BY path, size, mtime_ns
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE newslake.claims AS c
SET batch = grant_number.batch, claimed_by = %(name)s, holder_host = %(host)s, holder_pid = %(pid)s,
    holder_started = %(started)s, lease_until = now() + make_interval(secs => %(lease_seconds)s),
    times_claimed = c.times_claimed + 1
FROM picked, grant_number
WHERE (c.path, c.size, c.mtime_ns) = (picked.path, picked.size, picked.mtime_ns)
RETURNING c.batch, c.path, c.size, c.mtime_ns
