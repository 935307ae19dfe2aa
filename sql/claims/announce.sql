-- PostgreSQL. Mark a writer process at work on this lake for as long as this session lasts (PostgreSQL
-- releases the lock when the session ends, the process's death included). Shared: each of the
-- process's sessions may hold it. Keyed as writers.sql keys the holders of claims.
SELECT pg_advisory_lock_shared(%(class)s, hashtext(concat_ws(':', %(host)s::text, %(pid)s::int, %(started)s::bigint)))
