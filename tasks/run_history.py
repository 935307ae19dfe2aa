"""Run history rows: one `runs` row per run, written when it starts and completed when it ends.

Plain DuckDB writes with no Prefect import, so a run that finds nothing new can be recorded
without paying for Prefect's start-up (see record_unchanged_run).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

import sql
from tasks.lake import lake_errors

if TYPE_CHECKING:
    from tasks.dedup import Deduplicated

INGEST_FLOW = "ingest"  # the flow name the ingest flow's runs rows carry


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunCounts:
    """A run's counts as its `runs` row carries them."""

    files_seen: int
    articles_new: int
    duplicates: int
    rejected: int


@dataclass
class RunSummary:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    files_seen: int = 0  # every entry the scan looked at, unchanged ones included
    files_unchanged: int = 0
    articles_new: int = 0
    duplicates: int = 0
    duplicates_by_method: Counter = field(default_factory=Counter)
    rejected_by_reason: Counter = field(default_factory=Counter)
    rejected_files: list[tuple[str, str]] = field(default_factory=list)
    snapshot_id: int | None = None

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def counts_with(self, batch: Deduplicated) -> RunCounts:
        """The run's counts once `batch` has landed, for the batch's own transaction to write."""
        return RunCounts(self.files_seen, self.articles_new + len(batch.new),
                         self.duplicates + len(batch.duplicates), self.rejected + len(batch.rejected))

    def add_batch(self, batch: Deduplicated, snapshot_id: int | None) -> None:
        self.articles_new += len(batch.new)
        self.duplicates += len(batch.duplicates)
        self.duplicates_by_method.update(mark.method for mark in batch.duplicates)
        for result in batch.rejected:
            self.rejected_by_reason[result.rejection] += 1
            self.rejected_files.append((result.ref.path, result.rejection))
        if snapshot_id is not None:
            self.snapshot_id = snapshot_id


def no_other_run_alive(run_ids: list[str]) -> set[str]:
    """A lone writer holds the lake's writer lock: no other run can be alive."""
    return set()


@lake_errors()
def record_run_start(con: duckdb.DuckDBPyConnection, summary: RunSummary, flow: str,
                     alive: Callable[[list[str]], set[str]] = no_other_run_alive) -> int:
    """Record the run as running, and mark runs that died without finishing as crashed: the runs
    still `running` that `alive` (given their ids, returning those still going) does not vouch
    for. Returns how many were marked."""
    con.execute("BEGIN")
    try:
        running = [row[0] for row in con.execute(sql.load("running_runs"), {"run_id": summary.run_id}).fetchall()]
        going = alive(running) if running else set()
        dead = [run_id for run_id in running if run_id not in going]
        if dead:
            con.register("dead_runs", pa.table({"run_id": pa.array(dead, pa.string())}))
            try:
                con.execute(sql.load("mark_crashed_runs"))
            finally:
                con.unregister("dead_runs")
        con.execute(sql.load("run_start"), {"run_id": summary.run_id, "flow": flow, "started_at": summary.started_at})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(dead)


@lake_errors()
def record_run_end(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    con.execute(
        sql.load("run_finish"),
        {"run_id": summary.run_id, "finished_at": summary.finished_at, "status": summary.status,
         "files_seen": summary.files_seen, "articles_new": summary.articles_new,
         "duplicates": summary.duplicates, "rejected": summary.rejected,
         "snapshot_id": summary.snapshot_id},
    )


def record_unchanged_run(con: duckdb.DuckDBPyConnection, files_seen: int,
                         alive: Callable[[list[str]], set[str]] = no_other_run_alive) -> RunSummary:
    """Record a run that found every file unchanged (`alive` as for record_run_start). It was
    answered by a directory scan, with no Prefect flow run, so its id is newslake's own."""
    summary = RunSummary(run_id=str(uuid.uuid4()), started_at=_utcnow(), status="completed",
                         files_seen=files_seen, files_unchanged=files_seen)
    record_run_start(con, summary, INGEST_FLOW, alive)
    summary.finished_at = _utcnow()
    record_run_end(con, summary)
    return summary
