"""Claims on a real PostgreSQL: writers split an inbox, each file once; a dead holder's files come back;
a completed file is never handed out again."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal

import pytest

from tasks import claims
from tasks.claims import Holder
from tasks.records import FileRef
from tests.conftest import poll_until

LONG_LEASE = 3600.0
spawn = multiprocessing.get_context("spawn")


def inbox_files(count: int) -> list[FileRef]:
    return [FileRef(f"inbox/{n:04d}.txt", 1000 + n, 1_700_000_000_000_000_000 + n) for n in range(count)]


def _claim_until_none(url: str, name: str, batch_size: int) -> list[tuple[list[str], int]]:
    """A writer: claims batches and completes them until nothing is free. Returns each batch's
    paths, and how many of them it found it had lost on completing."""
    con = claims.connect(url)
    claims.ensure_claims_table(con)
    holder = Holder.this_process(name)
    got = []
    while (claim := claims.claim_batch(con, holder, batch_size, LONG_LEASE)) is not None:
        lost = claims.complete(con, claim)
        got.append(([f.path for f in claim.files], len(lost)))
    con.close()
    return got


def _claim_and_hang(url: str, batch_size: int, claimed) -> None:
    """A writer that claims one batch, reports it, and hangs until killed."""
    con = claims.connect(url)
    claim = claims.claim_batch(con, Holder.this_process("doomed"), batch_size, LONG_LEASE)
    claimed.put([f.path for f in claim.files])
    signal.pause()


def _first_report(process, reports) -> object:
    """What `process` puts on `reports` first; fails at once if the process dies before that."""
    while True:
        try:
            return reports.get(timeout=1)
        except queue.Empty:
            assert process.is_alive(), f"the process ended with exit code {process.exitcode}"


def test_claims_concurrent_claimers_cover_every_file_once(claims_con, catalog_url):
    files = inbox_files(150)
    assert claims.offer(claims_con, files) == 150
    with spawn.Pool(4) as writers:
        reports = writers.starmap(_claim_until_none, [(catalog_url, f"writer-{n}", 7) for n in range(4)],
                                  chunksize=1)
    batches = [batch for got in reports for batch, lost in got]
    assert all(lost == 0 for got in reports for batch, lost in got)
    claimed = [path for batch in batches for path in batch]
    assert sorted(claimed) == [f.path for f in files]  # every file, none twice
    assert all(len(batch) <= 7 for batch in batches)
    assert claims.counts(claims_con) == claims.ClaimCounts(done=150, held=0, free=0)
    assert claims_con.execute("SELECT max(times_claimed) FROM newslake.claims").fetchone() == (1,)


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_claims_holder_killed_with_sigkill_loses_its_claims_at_once(claims_con, catalog_url, reaped):
    claims.offer(claims_con, inbox_files(12))
    claimed = spawn.Queue()
    doomed = spawn.Process(target=_claim_and_hang, args=(catalog_url, 5, claimed))
    doomed.start()
    held = _first_report(doomed, claimed)
    assert claims.counts(claims_con) == claims.ClaimCounts(done=0, held=5, free=7)
    os.kill(doomed.pid, signal.SIGKILL)
    if reaped:
        doomed.join()
    else:  # killed but not yet waited for by its parent: still listed in /proc, as a zombie
        os.waitid(os.P_PID, doomed.pid, os.WEXITED | os.WNOWAIT)
    survivor = Holder.this_process("survivor")
    first = claims.claim_batch(claims_con, survivor, 5, LONG_LEASE)
    assert [f.path for f in first.files] == held  # the dead holder's files, long before its lease ends
    doomed.join()


@pytest.mark.parametrize("lease_seconds, taken_over", [(0.0, True), (LONG_LEASE, False)], ids=["expired", "running"])
def test_claims_holder_elsewhere_loses_its_claims_when_its_lease_ends(claims_con, lease_seconds, taken_over):
    """A holder on another host cannot be seen dead from here: only the end of its lease frees its files."""
    claims.offer(claims_con, inbox_files(4))
    elsewhere = Holder(name="remote", host="another-host", pid=os.getpid(), started=1)
    assert len(claims.claim_batch(claims_con, elsewhere, 4, lease_seconds).files) == 4
    again = claims.claim_batch(claims_con, Holder.this_process("local"), 4, LONG_LEASE)
    assert (again is not None and len(again.files) == 4) is taken_over


def test_claims_completed_files_are_never_handed_out_again(claims_con):
    files = inbox_files(6)
    claims.offer(claims_con, files)
    holder = Holder.this_process("writer")
    first = claims.claim_batch(claims_con, holder, 6, 0.0)  # even with its lease over
    assert claims.complete(claims_con, first) == ()
    assert claims.offer(claims_con, files) == 0  # offered again by a writer that scanned late
    assert claims.claim_batch(claims_con, holder, 6, LONG_LEASE) is None
    assert claims.counts(claims_con) == claims.ClaimCounts(done=6, held=0, free=0)


def test_claims_given_back_files_are_handed_out_again(claims_con):
    claims.offer(claims_con, inbox_files(3))
    first = claims.claim_batch(claims_con, Holder.this_process("stopping"), 3, LONG_LEASE)
    assert claims.claim_batch(claims_con, Holder.this_process("other"), 3, LONG_LEASE) is None
    claims.give_back(claims_con, first)
    second = claims.claim_batch(claims_con, Holder.this_process("other"), 3, LONG_LEASE)
    assert second.files == first.files and second.batch != first.batch


def test_claims_holder_whose_lease_was_taken_over_learns_what_it_lost(claims_con):
    claims.offer(claims_con, inbox_files(3))
    late = claims.claim_batch(claims_con, Holder(name="slow", host="another-host", pid=1, started=1), 3, 0.0)
    taker = claims.claim_batch(claims_con, Holder.this_process("taker"), 2, LONG_LEASE)
    assert claims.renew(claims_con, late, LONG_LEASE) == taker.files
    assert claims.complete(claims_con, late) == taker.files
    assert claims.complete(claims_con, taker) == ()
    assert claims.counts(claims_con) == claims.ClaimCounts(done=3, held=0, free=0)


def test_claims_renewed_lease_keeps_the_files(claims_con):
    claims.offer(claims_con, inbox_files(2))
    claim = claims.claim_batch(claims_con, Holder(name="remote", host="another-host", pid=1, started=1), 2, 0.0)
    assert claims.renew(claims_con, claim, LONG_LEASE) == ()
    assert claims.claim_batch(claims_con, Holder.this_process("other"), 2, LONG_LEASE) is None


def test_claims_writers_are_the_processes_announced_or_holding_uncommitted_files(catalog_url, claims_con):
    claims.offer(claims_con, inbox_files(6))
    me, remote = Holder.this_process("me"), Holder(name="remote", host="another-host", pid=1, started=1)
    mine = claims.claim_batch(claims_con, me, 2, LONG_LEASE)
    assert claims.writers(claims_con, me) == claims.Writers(others=0, held_by_others=0, held_here=2)
    theirs = claims.claim_batch(claims_con, remote, 2, LONG_LEASE)
    claims.claim_batch(claims_con, Holder(name="stalled", host="a-third-host", pid=2, started=2), 2, 0.0)
    # A lease that ran out is no writer at work.
    assert claims.writers(claims_con, me) == claims.Writers(others=1, held_by_others=2, held_here=2)
    claims.complete(claims_con, theirs)  # ... nor one whose files are all committed
    assert claims.writers(claims_con, me).others == 0
    assert claims.writers(claims_con, remote) == claims.Writers(others=1, held_by_others=2, held_here=0)
    claims.complete(claims_con, mine)
    # A writer that has announced itself is at work before it claims, for as long as its session lasts.
    starting = claims.connect(catalog_url)
    claims.announce(starting, remote)
    assert claims.writers(claims_con, me) == claims.Writers(others=1, held_by_others=0, held_here=0)
    claims.announce(claims_con, me)  # its own announcement makes no other writer
    assert claims.writers(claims_con, me).others == 1
    starting.close()
    # PostgreSQL releases the session's lock when its backend process exits, just after the close.
    assert poll_until(lambda: claims.writers(claims_con, me).others == 0, timeout=10, interval=0.02)


def test_claims_writers_started_together_claim_a_share_each_and_a_lone_writer_whole_batches(catalog_url, claims_con):
    from tasks.claimed_records import claim_files

    claims.offer(claims_con, inbox_files(900))
    names = [Holder(name=f"writer-{n}", host=f"host-{n}", pid=1, started=1) for n in range(3)]
    sessions = [claims.connect(catalog_url) for _ in names]
    try:
        for session, holder in zip(sessions, names):
            claims.announce(session, holder)  # all three start before any claims
        first = [claim_files(session, holder, 400) for session, holder in zip(sessions, names)]
        assert [len(claim.files) for claim in first] == [300, 300, 300]
        for session, claim in zip(sessions, first):
            claims.complete(session, claim)
    finally:
        for session in sessions:
            session.close()
    claims.offer(claims_con, [FileRef(f"later/{n:04d}.txt", 1, 1) for n in range(500)])
    me = Holder.this_process("me")
    assert [len(claim_files(claims_con, me, 400).files) for _ in range(2)] == [400, 100]  # alone: whole batches
