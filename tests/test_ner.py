"""tasks.ner: persistent spaCy NER worker processes (real spaCy, real processes)."""

from __future__ import annotations

import os
import signal

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
        os.kill(pool._processes[0].pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="worker process died"):
            list(pool.submit(BODIES[:2]).entities())
    finally:
        pool.close()


def test_shared_workers_restart_after_close():
    from tasks.ner import start_shared_workers

    first = start_shared_workers()
    first.close()  # as `newslake ingest` does in-process when there is nothing new
    second = start_shared_workers()
    assert second is not first
    assert list(second.submit(BODIES[:2]).entities()) == in_process_entities(BODIES[:2])
