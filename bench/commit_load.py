"""A writer process that commits small synthetic batches into the real newslake tables, one DuckLake
transaction per batch (tasks.lake.commit_batch), as fast as it can: the load of the commit-ceiling
benchmark (bench/bench_commits.py) and of the test of maintenance beside writers.

The parent talks to writers through a queue and two events. Each writer reports ("ready", name)
once its lake is open, waits for `go`, reports ("first", name) after its first commit, commits until
`stop`, then reports ("done", name, commits, seconds) or, on any error, ("failed", name, message).
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from contextlib import nullcontext
from datetime import UTC, datetime

import pyarrow as pa

from tasks import claims, schema
from tasks.dedup import existing_article_ids
from tasks.lake import LakeLocation, commit_batch, open_lake

ENTITIES_PER_ARTICLE = 3
REPORT_TIMEOUT_SECONDS = 300


class WriterFailed(Exception):
    """A writer process failed; the message carries its traceback."""


def synthetic_batch(writer: str, batch: int, articles: int) -> dict[str, pa.Table]:
    """`articles` new stories with their entities and files rows, ids unique per writer and batch."""
    now = datetime.now(UTC)
    ids = [f"{writer}-{batch}-{n}" for n in range(articles)]
    return {
        "articles": pa.Table.from_pylist(
            [{"article_id": i, "title": f"Story {i}", "body": f"The body of story {i}.", "word_count": 5,
              "format": "plain", "source_path": f"{i}.txt", "run_id": writer, "ingested_at": now} for i in ids],
            schema=schema.ARTICLES),
        "entities": pa.Table.from_pylist(
            [{"article_id": i, "text": f"Name {k}", "name": f"Name {k}", "label": "PERSON", "start_char": k,
              "end_char": k + 6} for i in ids for k in range(ENTITIES_PER_ARTICLE)], schema=schema.ENTITIES),
        "files": pa.Table.from_pylist(
            [{"path": f"{i}.txt", "sha256": i, "size": 100, "mtime_ns": 0, "status": "ingested", "article_id": i,
              "run_id": writer, "seen_at": now} for i in ids], schema=schema.FILES),
    }


def writer_process(location: LakeLocation, name: str, articles_per_batch: int, go, stop, reports) -> None:
    """Process target: see the module's docstring for the conversation with the parent."""
    try:
        con = open_lake(location)
        con.execute("SET enable_progress_bar = false")  # a slow commit on a busy machine would draw one
        # Writers sharing a catalog commit one at a time, in the commit section, after checking that
        # their stories are still new (flows/ingest.py): the ceiling counts both.
        session = claims.connect(location.catalog) if location.catalog else None
        reports.put(("ready", name))
        go.wait()
        started = time.perf_counter()
        commits = 0
        while not stop.is_set():
            rows = synthetic_batch(name, commits, articles_per_batch)
            with claims.commit_section(session) if session else nullcontext():
                existing_article_ids(con, rows["articles"].column("article_id").to_pylist())
                commit_batch(con, rows, run_id=name, batch=commits)
            commits += 1
            if commits == 1:
                reports.put(("first", name))
        seconds = time.perf_counter() - started
        con.close()
        if session:
            session.close()
        reports.put(("done", name, commits, seconds))
    except BaseException:  # reported to the parent, which fails the test or the benchmark
        reports.put(("failed", name, traceback.format_exc()))
        raise


class Writers:
    """`count` writer processes on one lake: started (and their lakes open) on entering, committing
    from `start_committing` until `finish`, which returns each one's (commits, seconds)."""

    def __init__(self, location: LakeLocation, count: int, articles_per_batch: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._go, self._stop, self._reports = spawn.Event(), spawn.Event(), spawn.Queue()
        self.names = [f"writer-{n}" for n in range(count)]
        self._processes = [spawn.Process(target=writer_process, args=(location, name, articles_per_batch, self._go,
                                                                      self._stop, self._reports))
                           for name in self.names]

    def __enter__(self) -> Writers:
        for process in self._processes:
            process.start()
        self._await("ready")
        return self

    def start_committing(self) -> None:
        """Let every writer go; returns once each has committed a batch."""
        self._go.set()
        self._await("first")

    def finish(self) -> dict[str, tuple[int, float]]:
        self._stop.set()
        return {report[1]: (report[2], report[3]) for report in self._await("done")}

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._go.set()
        for process in self._processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()

    def _await(self, kind: str) -> list[tuple]:
        """One report of `kind` from every writer; WriterFailed as soon as one fails."""
        reports = []
        deadline = time.monotonic() + REPORT_TIMEOUT_SECONDS
        while len(reports) < len(self._processes):
            try:
                report = self._reports.get(timeout=1)
            except queue.Empty:
                reported = {r[1] for r in reports}
                silent_and_gone = [name for name, process in zip(self.names, self._processes)
                                   if name not in reported and not process.is_alive()]
                if silent_and_gone or time.monotonic() > deadline:
                    raise WriterFailed(f"{silent_and_gone or 'writers'} stopped before reporting {kind!r}") from None
                continue
            if report[0] == "failed":
                raise WriterFailed(f"{report[1]} failed:\n{report[2]}")
            if report[0] == kind:
                reports.append(report)
        return reports
