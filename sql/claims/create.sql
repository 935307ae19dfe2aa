-- PostgreSQL. The claims table, in a schema of its own beside DuckLake's catalog tables: one row per
-- inbox file version (path, size, mtime), handed to one writer at a time under a lease until the
-- batch holding it is committed to the lake (done_at). Run under an advisory lock: concurrent
-- CREATE ... IF NOT EXISTS can still collide in PostgreSQL.
CREATE SCHEMA IF NOT EXISTS newslake;
CREATE SEQUENCE IF NOT EXISTS newslake.claim_batches;
CREATE TABLE IF NOT EXISTS newslake.claims (
    path            TEXT NOT NULL,
    size            BIGINT NOT NULL,
    mtime_ns        BIGINT NOT NULL,
    offered_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    batch           BIGINT,       -- the grant that last handed it out (claim_batches)
    claimed_by      TEXT,         -- the writer's name
    holder_host     TEXT,         -- where the writer runs ...
    holder_pid      INTEGER,      -- ... its process ...
    holder_started  BIGINT,       -- ... and that process's start time, so a reused pid is not taken for it
    lease_until     TIMESTAMPTZ,  -- NULL: never claimed; at or before now(): free to claim again
    times_claimed   INTEGER NOT NULL DEFAULT 0,
    done_at         TIMESTAMPTZ,  -- committed to the lake: never handed out again
    PRIMARY KEY (path, size, mtime_ns)
);
CREATE INDEX IF NOT EXISTS claims_open ON newslake.claims (path, size, mtime_ns) WHERE done_at IS NULL;
CREATE INDEX IF NOT EXISTS claims_batch ON newslake.claims (batch) WHERE done_at IS NULL;
