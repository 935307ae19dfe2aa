"""tasks.ner: persistent spaCy NER worker processes (real spaCy, real processes)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tasks.enrich import enrich_bodies, enrich_submitted, load_nlp
from tests.conftest import BBC

BODIES = [p.read_text(encoding="utf-8").partition("\n")[2].strip() for p in sorted(BBC.glob("*.txt"))[:12]]


@pytest.fixture(scope="module")
def workers():
    from tasks.ner import NerWorkers

    pool = NerWorkers(processes=2, chunk_size=3)
    yield pool
    pool.close()


def in_process_entities(bodies: list[str]) -> list[list[tuple]]:
    return [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] for doc in load_nlp().pipe(bodies)]


@pytest.mark.parametrize("bodies", [BODIES, BODIES[:1], ["", "Putin called Biden."], []],
                         ids=["twelve", "one", "empty-and-short", "none"])
def test_ner_workers_same_entities_as_in_process(workers, bodies):
    assert list(workers.submit(bodies).entities()) == in_process_entities(bodies)


def test_ner_workers_jobs_queued_ahead_come_back_apart(workers):
    first, second = workers.submit(BODIES[:7]), workers.submit(BODIES[7:])
    assert list(second.entities()) == in_process_entities(BODIES[7:])  # collected out of order
    assert list(first.entities()) == in_process_entities(BODIES[:7])


def test_ner_workers_enrichments_same_as_enrich_bodies(workers):
    assert enrich_submitted(BODIES, workers.submit(BODIES)) == enrich_bodies(BODIES, n_process=1)


def test_ner_workers_dead_worker_is_an_error():
    from tasks.ner import NerWorkers

    pool = NerWorkers(processes=1)
    try:
        os.kill(pool._process.pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="worker process died"):
            list(pool.submit(BODIES[:2]).entities())
    finally:
        pool.close()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":  # dead, not yet reaped
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"), reason="Linux /proc")
def test_ner_workers_a_dead_sibling_is_an_error_and_none_outlives_close():
    """The second worker is forked by the first (sharing its model): its death must still fail the
    job rather than hang it, and closing the pool must not leave it running."""
    from tasks.ner import NerWorkers

    pool = NerWorkers(processes=2, chunk_size=1)
    try:
        assert list(pool.submit(BODIES[:4]).entities()) == in_process_entities(BODIES[:4])  # both serve
        first = pool._process.pid
        [sibling] = _children(first)
        os.kill(sibling, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="worker process died"):
            list(pool.submit(BODIES[:6]).entities())
    finally:
        pool.close()
    assert _wait_gone(first) and _wait_gone(sibling)

    pool = NerWorkers(processes=2)
    assert list(pool.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])
    [sibling] = _children(pool._process.pid)
    pool.close()
    assert _wait_gone(sibling)


def test_shared_workers_restart_after_close():
    from tasks.ner import start_shared_workers

    first = start_shared_workers()
    first.close()  # as `newslake ingest` does in-process when there is nothing new
    second = start_shared_workers()
    assert second is not first
    assert list(second.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])


def test_prefetched_job_serves_a_submit_of_some_of_its_bodies(workers):
    """The flow's first batch may drop stories the prefetch queued (near copies of the lake's
    history): it gets those of the prefetched results it asks for, in order, and no new job."""
    workers.prefetch(BODIES[:9])
    kept = [BODIES[1], BODIES[4], BODIES[5], BODIES[8]]
    job = workers.submit(kept)
    assert list(job.entities()) == in_process_entities(kept)
    assert list(workers.submit(BODIES[9:]).entities()) == in_process_entities(BODIES[9:])  # the next job: its own

    workers.prefetch(BODIES[:3])
    reordered = [BODIES[2], BODIES[0]]  # not the prefetch with some left out: a job of its own
    assert list(workers.submit(reordered).entities()) == in_process_entities(reordered)
