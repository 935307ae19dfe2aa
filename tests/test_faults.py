"""Faults: transient errors are retried, permanent ones are contained.

Real flow runs through Prefect on a real DuckLake. Faults are injected at our own seams (the
`tasks.lake.commit_batch` wrapper as `tasks.commit` calls it, `tasks.lake.landed_snapshot`,
`tasks.formats.records.parse_document`), or are real: the SQLite catalog locked by another process.
The retries are read back from Prefect's task run state history. The runs ingest `small_inbox`
(5 files, 4 articles) in batches small enough that each run has the batches its fault needs.
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

import tasks.commit
import tasks.formats.records
import tasks.lake
from tasks.lake import CATALOG_FILE, LakeBusy, batch_stamp, open_lake
from tests.conftest import lake_rows, poll_until

pytestmark = pytest.mark.usefixtures("prefect_harness")
ARTICLES = 4  # small_inbox's 5 files, one an exact copy of another

# Holds the catalog locked until told to release it, so a commit meets the lock for the whole of
# SQLite's busy wait whatever the machine's load.
HOLD_EXCLUSIVE_LOCK = """
import sqlite3, sys
catalog = sqlite3.connect(sys.argv[1], isolation_level=None)
catalog.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
catalog.execute("COMMIT")
"""


@pytest.fixture(autouse=True)
def retries_without_the_wait(monkeypatch):
    """Retries go through AwaitingRetry as in a run, after a hundredth of a second instead of
    seconds: what these tests check is which errors are retried and what lands, not the wait."""
    from tasks.commit import commit_batch_task
    from tasks.enrich import enrich_task

    for task in (commit_batch_task, enrich_task):
        monkeypatch.setattr(task, "retry_delay_seconds", 0.01)


def run_ingest(inbox: Path, lake: Path, **settings):
    from flows.ingest import IngestSettings, ingest

    return ingest(IngestSettings(seeds=inbox, lake=lake, **settings))


def state_names(run_id: str, task_name: str, task_runs: int) -> list[list[str]]:
    """The state history of each of the `task_runs` runs of the task `task_name` in the flow run
    `run_id`, once the server has recorded all of them to a final state: its task run recorder
    writes in batches, at least once a second (newslake.prefect_server)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    histories: list[list[str]] = []

    def all_recorded() -> bool:
        with get_client(sync_client=True) as client:
            task_runs_seen = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)])),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=task_name)),
            )
            histories[:] = [[s.name for s in sorted(client.read_task_run_states(t.id), key=lambda s: s.timestamp)]
                            for t in task_runs_seen]
        return len(histories) == task_runs and all(h and h[-1] in ("Completed", "Failed") for h in histories)

    assert poll_until(all_recorded, timeout=30, interval=0.2), histories
    return histories


def assert_lake_complete(lake: Path, articles: int) -> None:
    (n, distinct), = lake_rows(lake, "SELECT count(*), count(DISTINCT article_id) FROM articles")
    assert n == distinct == articles
    (files, paths), = lake_rows(lake, "SELECT count(*), count(DISTINCT path) FROM files")
    assert files == paths
    assert lake_rows(lake, "SELECT count(*) FROM entities WHERE article_id NOT IN (SELECT article_id FROM articles)") == [(0,)]


def fail_first_commit(monkeypatch, fault) -> list[int]:
    """Make the first commit meet `fault()` (which may raise, or just set the scene) before it runs."""
    real_commit, calls = tasks.commit.commit_batch, []

    def commit_batch(*args, **kwargs):
        calls.append(kwargs["batch"])
        if len(calls) == 1:
            fault()
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(tasks.commit, "commit_batch", commit_batch)
    return calls


def test_fault_catalog_locked_at_commit_is_retried(small_inbox, lake_dir, monkeypatch):
    open_lake(lake_dir).close()
    real_commit, calls, errors = tasks.commit.commit_batch, [], []

    def commit_batch(*args, **kwargs):
        """The first attempt runs while another process holds the catalog; the lock is released
        once that attempt has failed, so the retry finds the catalog free."""
        calls.append(kwargs["batch"])
        if len(calls) > 1:
            return real_commit(*args, **kwargs)
        holder = subprocess.Popen([sys.executable, "-c", HOLD_EXCLUSIVE_LOCK, str(lake_dir / CATALOG_FILE)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            return real_commit(*args, **kwargs)
        except Exception as exc:
            errors.append(exc)
            raise
        finally:
            holder.communicate("release\n", timeout=30)

    monkeypatch.setattr(tasks.commit, "commit_batch", commit_batch)
    summary = run_ingest(small_inbox, lake_dir)
    assert [type(e) for e in errors] == [LakeBusy]
    assert summary.status == "completed" and summary.articles_new == ARTICLES
    assert calls == [0, 0]  # the one batch, committed on the second attempt
    assert_lake_complete(lake_dir, ARTICLES)
    [history] = state_names(summary.run_id, "commit-batch", task_runs=1)
    assert "AwaitingRetry" in history and history[-1] == "Completed"


def test_fault_lookup_after_commit_fails_and_retry_lands_nothing_twice(small_inbox, lake_dir, monkeypatch):
    """COMMIT goes through, then the snapshot lookup after it fails (the catalog busy): the task
    retries the whole commit, which must find the batch by its stamp and insert nothing."""
    real_lookup, failed = tasks.lake.landed_snapshot, []

    def landed_snapshot(con, stamp):
        snapshot = real_lookup(con, stamp)
        if snapshot is not None and not failed:  # the first time a batch is found: right after its COMMIT
            failed.append(stamp)
            raise LakeBusy("simulated: catalog locked after COMMIT")
        return snapshot

    monkeypatch.setattr(tasks.lake, "landed_snapshot", landed_snapshot)
    summary = run_ingest(small_inbox, lake_dir, batch_size=3)  # two batches
    assert failed == [batch_stamp(summary.run_id, 0)]
    assert summary.status == "completed" and (summary.articles_new, summary.duplicates) == (ARTICLES, 1)
    assert_lake_complete(lake_dir, ARTICLES)
    assert lake_rows(lake_dir, "SELECT count(*) FROM files") == [(ARTICLES + 1,)]
    assert lake_rows(lake_dir, "SELECT count(*) FROM duplicates") == [(1,)]
    assert lake_rows(lake_dir, "SELECT count(*) FROM minhash_bands GROUP BY article_id HAVING count(*) > 64") == []
    assert lake_rows(lake_dir, "SELECT articles_new, duplicates FROM runs") == [(ARTICLES, 1)]
    histories = state_names(summary.run_id, "commit-batch", task_runs=2)
    assert sorted(h.count("AwaitingRetry") for h in histories) == [0, 1]


def test_fault_disk_full_at_commit_is_retried(small_inbox, lake_dir, monkeypatch):
    def disk_full():
        raise OSError(errno.ENOSPC, "No space left on device")

    calls = fail_first_commit(monkeypatch, disk_full)
    summary = run_ingest(small_inbox, lake_dir, batch_size=3)  # two batches
    assert summary.status == "completed" and summary.articles_new == ARTICLES
    assert calls == [0, 0, 1]
    assert_lake_complete(lake_dir, ARTICLES)
    histories = state_names(summary.run_id, "commit-batch", task_runs=2)
    assert sorted("AwaitingRetry" in h for h in histories) == [False, True]
    assert all(h[-1] == "Completed" for h in histories)


def test_fault_parser_exception_rejects_only_that_file(small_inbox, lake_dir, monkeypatch):
    weird = small_inbox / "weird.txt"
    weird.write_text("A weird file\n\nWhose layout trips the parser over.\n")
    real_parse = tasks.formats.records.parse_document

    def parse_document(text: str):
        if "trips the parser" in text:
            raise IndexError("list index out of range")
        return real_parse(text)

    monkeypatch.setattr(tasks.formats.records, "parse_document", parse_document)
    summary = run_ingest(small_inbox, lake_dir)
    assert summary.status == "completed" and summary.articles_new == ARTICLES
    assert lake_rows(lake_dir, "SELECT status, reason FROM files WHERE path = 'weird.txt'") == [
        ("rejected", "parse error (IndexError: list index out of range)")]
    assert_lake_complete(lake_dir, ARTICLES)


# --- NER ------------------------------------------------------------------------------------------


def fail_ner(monkeypatch, error_type: str, failing_calls: set[int]) -> None:
    """NER fails, as a worker reports it, on the given calls (1-based; a retry, which submits the
    batch to the pool again, is a call too)."""
    import tasks.enrich
    from tasks.ner import NerFailed

    real_submitted, calls = tasks.enrich.enrich_submitted, []

    def enrich_submitted(bodies, job):
        calls.append(len(bodies))
        if len(calls) in failing_calls:
            raise NerFailed(error_type, "simulated")
        return real_submitted(bodies, job)

    monkeypatch.setattr(tasks.enrich, "enrich_submitted", enrich_submitted)


def test_fault_ner_once_is_retried_and_batch_lands_with_entities(small_inbox, lake_dir, tmp_path, monkeypatch):
    control = run_ingest(small_inbox, tmp_path / "control", batch_size=3)  # two batches
    fail_ner(monkeypatch, "MemoryError", failing_calls={1})
    summary = run_ingest(small_inbox, lake_dir, batch_size=3)
    assert summary.status == "completed" and summary.articles_new == control.articles_new == ARTICLES
    entities = "SELECT article_id, text, name, label, start_char, end_char FROM entities ORDER BY ALL"
    assert lake_rows(lake_dir, entities) == lake_rows(tmp_path / "control", entities)
    histories = state_names(summary.run_id, "enrich", task_runs=2)
    assert sorted(h.count("AwaitingRetry") for h in histories) == [0, 1]


@pytest.mark.parametrize(("error_type", "retries"), [("MemoryError", 2), ("ValueError", 0)])
def test_fault_ner_persistent_fails_run_without_that_batch(small_inbox, lake_dir, monkeypatch, error_type, retries):
    fail_ner(monkeypatch, error_type, failing_calls={2, 3, 4})  # the second batch, and both its retries
    with pytest.raises(Exception, match="simulated"):
        run_ingest(small_inbox, lake_dir, batch_size=2)  # three batches, the copy in the last
    first_batch = sorted(p.relative_to(small_inbox).as_posix() for p in small_inbox.rglob("*") if p.is_file())[:2]
    assert [p for p, in lake_rows(lake_dir, "SELECT path FROM files ORDER BY path")] == first_batch
    (run_id, status), = lake_rows(lake_dir, "SELECT run_id, status FROM runs")
    assert status == "failed"
    assert_lake_complete(lake_dir, len(first_batch))
    histories = state_names(run_id, "enrich", task_runs=2)
    assert sorted(h.count("AwaitingRetry") for h in histories) == [0, retries]

    monkeypatch.undo()
    summary = run_ingest(small_inbox, lake_dir, batch_size=2)  # the next run redoes the failed batch
    assert summary.status == "completed" and summary.articles_new == ARTICLES - len(first_batch)
    assert_lake_complete(lake_dir, ARTICLES)


def test_ner_worker_error_belongs_to_its_job_and_names_its_type():
    from tasks.ner import NerFailed, NerPool
    from tasks.retry import is_bug

    workers = NerPool(processes=1, chunk_size=1)
    try:
        too_long = workers.submit(["word " * 250_000])  # spaCy refuses over 1,000,000 chars: a ValueError
        fine = workers.submit(["Vladimir Putin met Joe Biden in Geneva."])
        assert {text for text, *_ in next(fine.entities())} >= {"Vladimir Putin", "Joe Biden"}
        with pytest.raises(NerFailed) as failed:
            list(too_long.entities())
    finally:
        workers.close()
    assert failed.value.error_type == "ValueError" and is_bug(failed.value)
