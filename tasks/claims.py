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
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

import sql
from tasks.catalog import connect_catalog
from tasks.records import FileRef

# Held while creating the claims table: concurrent CREATE ... IF NOT EXISTS can still collide.
SCHEMA_LOCK_KEY = 0x6E65_7773_636C_6169  # "newsclai"
# Held by a writer from its last look at the lake (late dedup, identities) to its commit.
COMMIT_LOCK_KEY = 0x6E65_7773_636F_6D6D  # "newscomm"
# With the run id's hash, the advisory lock a writer's session holds while its run is alive.
RUN_LOCK_CLASS = 0x6E657772  # "newr"
# With the hash of a writer process's identity, the shared advisory lock its sessions hold (announce).
WRITER_LOCK_CLASS = 0x6E657770  # "newp"
DEFAULT_LEASE_SECONDS = 60.0


class ClaimLost(Exception):
    """Files this writer claimed were handed to another writer (its lease ran out while it was
    stalled): its batch must not commit them too."""


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
    """A connection for the claim functions (each runs its own transaction); the caller closes it.
    A server that does not answer is tasks.catalog.CatalogUnreachable."""
    return connect_catalog(url)


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


def held_by(con: psycopg.Connection, holder: Holder) -> list[Claim]:
    """The claims `holder`'s process holds and has not completed (whatever its name)."""
    with con.transaction():
        rows = con.execute(sql.load("claims/held_by"), {"host": holder.host, "pid": holder.pid,
                                                        "started": holder.started}).fetchall()
    batches: dict[int, list[FileRef]] = {}
    for batch, *ref in rows:
        batches.setdefault(batch, []).append(FileRef(*ref))
    return [Claim(batch, tuple(files)) for batch, files in batches.items()]


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


def hold_run(con: psycopg.Connection, run_id: str) -> None:
    """Mark the run alive for as long as this session lasts (PostgreSQL ends the session, and the
    lock, when the process dies, on any host)."""
    con.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [RUN_LOCK_CLASS, run_id])


def alive_runs(con: psycopg.Connection, run_ids: list[str]) -> set[str]:
    """Those of `run_ids` whose writer still holds its run lock (hold_run)."""
    alive = set()
    for run_id in run_ids:
        if con.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [RUN_LOCK_CLASS, run_id]).fetchone()[0]:
            con.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [RUN_LOCK_CLASS, run_id])
        else:
            alive.add(run_id)
    return alive


@dataclass(frozen=True)
class Writers:
    """The writers at work on a lake as one process sees them: the others (on any host), the files
    they hold, and the files it holds itself."""

    others: int
    held_by_others: int
    held_here: int


def _identity(holder: Holder) -> dict:
    return {"class": WRITER_LOCK_CLASS, "host": holder.host, "pid": holder.pid, "started": holder.started}


def announce(con: psycopg.Connection, holder: Holder) -> None:
    """Count `holder`'s process among the writers at work for as long as `con`'s session lasts, so
    that writers started together see each other before any of them claims."""
    con.execute(sql.load("claims/announce"), _identity(holder))


def writers(con: psycopg.Connection, holder: Holder) -> Writers:
    """The writers at work on this lake now, as `holder`'s process sees them."""
    with con.transaction():
        return Writers(*con.execute(sql.load("claims/writers"), _identity(holder)).fetchone())


def give_back(con: psycopg.Connection, claim: Claim) -> None:
    """Free the batch's files for any writer at once, without committing them (a writer stopping)."""
    with con.transaction():
        con.execute(sql.load("claims/give_back"), {"batch": claim.batch})


def counts(con: psycopg.Connection) -> ClaimCounts:
    with con.transaction():
        return ClaimCounts(*con.execute(sql.load("claims/counts")).fetchone())


@contextmanager
def commit_section(con: psycopg.Connection) -> Iterator[None]:
    """One writer at a time between its last look at the lake and its commit: DuckLake has no
    unique constraints, so the check that a batch's stories are still new (tasks.late_dedup) and the
    commit that adds them must not interleave with another writer's. A session-level advisory lock,
    released by PostgreSQL if the holder dies."""
    con.execute("SELECT pg_advisory_lock(%s)", [COMMIT_LOCK_KEY])
    try:
        yield
    finally:
        con.execute("SELECT pg_advisory_unlock(%s)", [COMMIT_LOCK_KEY])


class LeaseKeeper:
    """Renews the leases of the claims a writer holds, from a thread with its own connection, so
    a batch that spends long in NER keeps its files; a writer that dies stops renewing them.
    `confirm` (before a commit) says whether every held file is still this writer's."""

    def __init__(self, url: str, lease_seconds: float = DEFAULT_LEASE_SECONDS):
        self._con = connect(url)
        self._lease_seconds = lease_seconds
        self._held: dict[int, Claim] = {}
        self._lost: list[FileRef] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="newslake-lease-keeper", daemon=True)
        self._thread.start()

    def hold(self, claim: Claim) -> None:
        with self._lock:
            self._held[claim.batch] = claim

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._held.pop(claim.batch, None)

    def held(self) -> list[Claim]:
        with self._lock:
            return list(self._held.values())

    def confirm(self) -> None:
        """Raise ClaimLost unless every file of every held claim is still this writer's."""
        self._renew_all()
        with self._lock:
            if self._lost:
                raise ClaimLost(f"{len(self._lost)} claimed files went to another writer (first: {self._lost[0].path})")

    def _renew_all(self) -> None:
        with self._lock:
            for claim in self._held.values():
                self._lost.extend(renew(self._con, claim, self._lease_seconds))

    def _renew_until_stopped(self) -> None:
        while not self._stopped.wait(self._lease_seconds / 3):
            try:
                self._renew_all()
            except psycopg.Error:  # the next round, or the commit's confirm, tries again
                continue

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._con.close()


class WriterSession:
    """A writer's hold on the claims of a shared lake: its connection, who it is, and the leases it
    keeps. Closing it gives back what it still holds uncommitted (a run that failed), so the other
    writers, or the next run, take those files at once."""

    def __init__(self, url: str, run_id: str, name: str):
        self.con = connect(url)
        try:
            ensure_claims_table(self.con)
            hold_run(self.con, run_id)
            self.holder = Holder.this_process(name)
            announce(self.con, self.holder)
            self.leases = LeaseKeeper(url)
        except BaseException:
            self.con.close()
            raise

    def __enter__(self) -> WriterSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def commit_section(self):
        return commit_section(self.con)

    def alive_runs(self, run_ids: list[str]) -> set[str]:
        return alive_runs(self.con, run_ids)

    def complete(self, done: Iterable[Claim]) -> None:
        """The claims whose files all landed in a commit: never handed out again."""
        for claim in done:
            complete(self.con, claim)
            self.leases.release(claim)

    def close(self) -> None:
        try:
            for claim in self.leases.held():
                give_back(self.con, claim)
        finally:
            self.leases.close()
            self.con.close()
