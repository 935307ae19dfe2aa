"""Claims: splitting one inbox between writers that share a PostgreSQL catalog.

Each writer offers the files it found to do, then claims them in batches. A claim is a lease: the
files of a batch belong to one holder until the lease ends, the holder gives them back, or the batch
is committed to the lake (`complete`), after which they are never handed out again. A holder that
dies loses its files back to the others when its lease runs out, or at once when another writer on
the same host sees its process gone (its pid missing, a zombie, or a new process with that pid).

Plain functions over a psycopg connection that the caller opens (`connect`) and closes; each call is
one short PostgreSQL transaction. psycopg rather than DuckDB's postgres extension, because claiming
needs rows back from `UPDATE ... RETURNING` under `FOR UPDATE SKIP LOCKED`, and the commit-time
critical section needs a session that holds an advisory lock: plain PostgreSQL, which psycopg speaks
with real parameters and transactions. The SQL is in sql/claims/.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

import sql
from tasks.records import FileRef

# Held while creating the claims table: concurrent CREATE ... IF NOT EXISTS can still collide.
SCHEMA_LOCK_KEY = 0x6E65_7773_636C_6169  # "newsclai"


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: a writer's name, and the process it runs in."""

    name: str
    host: str
    pid: int
    started: int | None  # the process's start time (clock ticks after boot); None where /proc is missing

    @classmethod
    def this_process(cls, name: str) -> Holder:
        pid = os.getpid()
        return cls(name=name, host=socket.gethostname(), pid=pid, started=_process_start(pid))


@dataclass(frozen=True)
class Claim:
    """A batch of files handed to one holder."""

    batch: int
    files: tuple[FileRef, ...]


@dataclass(frozen=True)
class ClaimCounts:
    done: int
    held: int
    free: int


def _process_start(pid: int) -> int | None:
    """The start time of a live process `pid`; None when there is none (or no /proc to tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # After the command name (in parentheses, may hold spaces): state, then starttime 19 fields on.
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _is_dead(pid: int, started: int | None) -> bool:
    """Whether the process a claim names has ended. Unknowable without its start time: not dead."""
    return started is not None and _process_start(pid) != started


def connect(url: str) -> psycopg.Connection:
    """A connection for the claim functions (each runs its own transaction); the caller closes it."""
    return psycopg.connect(url, autocommit=True)


def ensure_claims_table(con: psycopg.Connection) -> None:
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK_KEY])
        con.execute(sql.load("claims/create"))


def offer(con: psycopg.Connection, files: Iterable[FileRef]) -> int:
    """Add files to be claimed; those offered before (claimed or done) are left as they are.
    Returns how many were new."""
    files = list(files)
    with con.transaction():
        cursor = con.execute(sql.load("claims/offer"), {"paths": [f.path for f in files],
                                                        "sizes": [f.size for f in files],
                                                        "mtimes_ns": [f.mtime_ns for f in files]})
        return cursor.rowcount


def claim_batch(con: psycopg.Connection, holder: Holder, limit: int, lease_seconds: float) -> Claim | None:
    """Claim up to `limit` free files, in path order, for `lease_seconds`; None when none is free.

    Files held by processes of this host that have died are freed first."""
    with con.transaction():
        for pid, started in con.execute(sql.load("claims/holders_on_host"), {"host": holder.host}).fetchall():
            if _is_dead(pid, started):
                con.execute(sql.load("claims/expire_holder"), {"host": holder.host, "pid": pid, "started": started})
        rows = con.execute(sql.load("claims/claim"), {
            "limit": limit, "lease_seconds": lease_seconds, "name": holder.name, "host": holder.host,
            "pid": holder.pid, "started": holder.started}).fetchall()
    if not rows:
        return None
    return Claim(batch=rows[0][0], files=tuple(FileRef(*row[1:]) for row in sorted(rows)))


def _lost(claim: Claim, kept: list[tuple]) -> tuple[FileRef, ...]:
    still = {FileRef(*row) for row in kept}
    return tuple(f for f in claim.files if f not in still)


def renew(con: psycopg.Connection, claim: Claim, lease_seconds: float) -> tuple[FileRef, ...]:
    """Extend the lease on the batch's files for `lease_seconds` from now. Returns the files it no
    longer holds (another writer claimed them after the lease ran out); empty when all are kept."""
    with con.transaction():
        kept = con.execute(sql.load("claims/renew"), {"batch": claim.batch, "lease_seconds": lease_seconds}).fetchall()
    return _lost(claim, kept)


def complete(con: psycopg.Connection, claim: Claim) -> tuple[FileRef, ...]:
    """Mark the batch's files done once its lake commit has landed; they are never claimed again.
    Returns the files it no longer held: another writer claimed them after the lease ran out, and
    that writer's commit must find them in the lake already."""
    with con.transaction():
        kept = con.execute(sql.load("claims/complete"), {"batch": claim.batch}).fetchall()
    return _lost(claim, kept)


def give_back(con: psycopg.Connection, claim: Claim) -> None:
    """Free the batch's files for any writer at once, without committing them (a writer stopping)."""
    with con.transaction():
        con.execute(sql.load("claims/give_back"), {"batch": claim.batch})


def counts(con: psycopg.Connection) -> ClaimCounts:
    with con.transaction():
        return ClaimCounts(*con.execute(sql.load("claims/counts")).fetchone())
