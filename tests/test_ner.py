"""tasks.ner: the NER worker pool (real spaCy, real processes): same entities as spaCy in-process, and
a pool that replaces a worker killed during a job or between jobs, drops a cancelled job's chunks, and
leaves no process behind."""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import signal
import subprocess
import sys

import pytest

from tasks.enrich import enrich_bodies, enrich_submitted, load_nlp
from tasks.ner import NerFailed, NerPool
from tests.conftest import BBC, REPO, is_running, poll_until

BODIES = [p.read_text(encoding="utf-8").partition("\n")[2].strip() for p in sorted(BBC.glob("*.txt"))[:12]]
# One body that keeps a worker in NER for a good while (tens of thousands of words).
LONG_BODY = "\n\n".join(BODIES)
WAIT_SECONDS = 60  # a bound for a loaded machine, never a measurement


@pytest.fixture(scope="module")
def pool():
    with NerPool(processes=2, chunk_size=3) as shared:
        yield shared


def in_process_entities(bodies: list[str]) -> list[list[tuple]]:
    return [_in_process_entities(body) for body in bodies]


@functools.cache  # the tests ask for the same few bodies again and again
def _in_process_entities(body: str) -> list[tuple]:
    return [(e.text, e.label_, e.start_char, e.end_char) for e in load_nlp()(body).ents]


wait_until = functools.partial(poll_until, timeout=WAIT_SECONDS, interval=0.05)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def occupy_every_worker(pool: NerPool):
    """A job of one long chunk per worker, returned once every worker is busy with its chunk (its CPU
    time grows: an idle worker sleeps in its pipe)."""
    idle = {pid: cpu_ticks(pid) for pid in pool.worker_pids()}
    job = pool.submit([LONG_BODY] * pool.processes)
    assert wait_until(lambda: all(cpu_ticks(pid) > ticks + 5 for pid, ticks in idle.items()))
    return job


def full_size(pool: NerPool) -> bool:
    pids = pool.worker_pids()
    return len(pids) == pool.processes and all(map(is_running, pids))


@pytest.mark.parametrize("bodies", [BODIES, BODIES[:1], ["", "Putin called Biden."], []],
                         ids=["twelve", "one", "empty-and-short", "none"])
def test_ner_pool_same_entities_as_in_process(pool, bodies):
    assert list(pool.submit(bodies).entities()) == in_process_entities(bodies)


def test_ner_pool_jobs_queued_ahead_come_back_apart(pool):
    first, second = pool.submit(BODIES[:7]), pool.submit(BODIES[7:])
    assert list(second.entities()) == in_process_entities(BODIES[7:])  # collected out of order
    assert list(first.entities()) == in_process_entities(BODIES[:7])


def test_ner_pool_bodies_read_ahead_serve_the_next_submit(pool):
    pool.submit_ahead(BODIES[:9])
    # The run's first batch: read ahead, less a duplicate, plus a body the read-ahead did not see.
    asked = [BODIES[0], BODIES[2], "Angela Merkel met Emmanuel Macron in Paris.", BODIES[8], BODIES[2]]
    assert list(pool.submit(asked).entities()) == in_process_entities(asked)


def test_ner_pool_read_ahead_serves_only_the_next_submit(pool):
    pool.submit_ahead(BODIES[:6])
    assert list(pool.submit(BODIES[6:]).entities()) == in_process_entities(BODIES[6:])
    assert list(pool.submit(BODIES[:6]).entities()) == in_process_entities(BODIES[:6])  # queued again


def test_ner_pool_read_ahead_into_a_closed_pool_is_ignored():
    pool = NerPool(processes=1)
    pool.close()
    pool.submit_ahead(BODIES[:2])  # speculative: nothing to fail


def test_ner_pool_enrichments_same_as_enrich_bodies(pool):
    assert enrich_submitted(BODIES, pool.submit(BODIES)) == enrich_bodies(BODIES, n_process=1)


def test_ner_pool_worker_killed_during_a_job_fails_that_job_and_is_replaced(caplog):
    with NerPool(processes=2, chunk_size=1) as pool:
        assert list(pool.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])  # both started
        busy = occupy_every_worker(pool)
        victim = pool.worker_pids()[0]
        with caplog.at_level(logging.WARNING, logger="newslake.ner"):
            os.kill(victim, signal.SIGKILL)
            with pytest.raises(NerFailed, match=f"pid {victim} killed by SIGKILL") as failed:
                list(busy.entities())
            assert failed.value.error_type == "WorkerDied"
            assert list(pool.submit(BODIES).entities()) == in_process_entities(BODIES)
        assert victim not in pool.worker_pids() and full_size(pool)
    deaths = [r.getMessage() for r in caplog.records if r.name == "newslake.ner"]
    assert deaths == [f"NER worker pid {victim} killed by SIGKILL; replaced"]


def test_ner_pool_worker_killed_between_jobs_next_job_succeeds():
    with NerPool(processes=2, chunk_size=2) as pool:
        assert list(pool.submit(BODIES).entities()) == in_process_entities(BODIES)
        victim = pool.worker_pids()[1]
        os.kill(victim, signal.SIGKILL)
        assert wait_until(lambda: not is_running(victim))
        assert list(pool.submit(BODIES).entities()) == in_process_entities(BODIES)
        assert wait_until(lambda: victim not in pool.worker_pids() and full_size(pool))
        assert list(pool.submit(BODIES[:4]).entities()) == in_process_entities(BODIES[:4])


def test_ner_pool_every_worker_killed_then_pool_serves_again():
    with NerPool(processes=2, chunk_size=2) as pool:
        assert list(pool.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])
        victims = pool.worker_pids()
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not any(map(is_running, victims)))
        assert list(pool.submit(BODIES).entities()) == in_process_entities(BODIES)
        assert wait_until(lambda: not set(victims) & set(pool.worker_pids()) and full_size(pool))


def test_ner_pool_cancelled_job_chunks_are_dropped_not_served_to_the_next_job():
    with NerPool(processes=2, chunk_size=1) as pool:
        assert list(pool.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])
        busy = occupy_every_worker(pool)  # so nothing of the next job can have started
        cancelled = pool.submit(BODIES)
        cancelled.cancel()
        following = pool.submit(BODIES[:5])
        assert list(following.entities()) == in_process_entities(BODIES[:5])
        with pytest.raises(concurrent.futures.CancelledError):
            next(cancelled.entities())
        assert len(list(busy.entities())) == pool.processes


def test_ner_pool_failed_job_drops_its_queued_chunks_and_the_next_job_gets_its_own():
    with NerPool(processes=1, chunk_size=1) as pool:
        too_long = pool.submit(["word " * 250_000] + BODIES)  # spaCy refuses over 1,000,000 chars
        with pytest.raises(NerFailed) as failed:
            list(too_long.entities())
        assert failed.value.error_type == "ValueError"
        assert list(pool.submit(BODIES[:3]).entities()) == in_process_entities(BODIES[:3])


def test_ner_pool_close_leaves_no_process_and_fails_waiting_jobs():
    pool = NerPool(processes=2, chunk_size=1)
    assert list(pool.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])
    pids = pool.worker_pids()
    pending = pool.submit(BODIES)
    pool.close()
    assert not any(map(is_running, pids))
    with pytest.raises((NerFailed, concurrent.futures.CancelledError)):
        list(pending.entities())
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(BODIES)
    pool.close()  # idempotent


def test_ner_workers_find_their_owner_main_module_imports_done(tmp_path):
    """multiprocessing starts each worker by running its owner's main module again. When the owner
    runs as `python -m NAME`, as a deployment's flow run does (`python -m prefect.engine`, whose
    imports are Prefect's), that module's imports are made once, in the forkserver, not in every
    worker."""
    log = tmp_path / "imports.log"
    run = subprocess.run([sys.executable, "-m", "tests.ner_pool_owner"], cwd=REPO, capture_output=True, text=True,
                         timeout=WAIT_SECONDS, env={**os.environ, "PYTHONPATH": str(REPO), "NEWSLAKE_TEST_IMPORT_LOG": str(log)})
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr, run.stderr  # nor does each worker warn that it was imported
    workers = {int(pid) for pid in run.stdout.split()}
    importers = [int(pid) for pid in log.read_text().split()]
    assert len(workers) == 2 and not workers & set(importers)
    assert len(importers) == 2, importers  # the owner, and the forkserver once
