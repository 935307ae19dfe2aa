"""Run history: one `runs` row per flow run, written when it starts and completed when it ends, and
the summary a run reports (to the CLI and as Prefect artifacts)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

import sql
from tasks.dedup import Deduplicated
from tasks.records import Enrichment
from tasks.retry import retry_if_transient

TOP_ENTITIES = 15
ENTITY_LABELS_OF_INTEREST = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT"}


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
    entity_counts: Counter = field(default_factory=Counter)  # (name, label) -> mentions
    snapshot_id: int | None = None

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def seconds(self) -> float:
        end = self.finished_at or self.started_at
        return (end - self.started_at).total_seconds()

    def add_batch(self, batch: Deduplicated, enrichments: list[Enrichment], snapshot_id: int | None) -> None:
        self.articles_new += len(batch.new)
        self.duplicates += len(batch.duplicates)
        self.duplicates_by_method.update(mark.method for mark in batch.duplicates)
        for result in batch.rejected:
            self.rejected_by_reason[result.rejection] += 1
            self.rejected_files.append((result.ref.path, result.rejection))
        for enrichment in enrichments:
            self.entity_counts.update(
                (e.name, e.label) for e in enrichment.entities if e.label in ENTITY_LABELS_OF_INTEREST
            )
        if snapshot_id is not None:
            self.snapshot_id = snapshot_id


def record_run_start(con: duckdb.DuckDBPyConnection, summary: RunSummary, flow: str) -> int:
    """Record the run as running, and mark runs that died without finishing as crashed (the
    caller holds the lake's writer lock, so any other run still `running` is dead). Returns how
    many were marked."""
    con.execute("BEGIN")
    try:
        crashed = con.execute(sql.load("mark_crashed_runs"), {"run_id": summary.run_id}).fetchone()[0]
        con.execute(sql.load("run_start"), {"run_id": summary.run_id, "flow": flow, "started_at": summary.started_at})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return crashed


def record_run_end(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    con.execute(
        sql.load("run_finish"),
        {"run_id": summary.run_id, "finished_at": summary.finished_at, "status": summary.status,
         "files_seen": summary.files_seen, "articles_new": summary.articles_new,
         "duplicates": summary.duplicates, "rejected": summary.rejected,
         "snapshot_id": summary.snapshot_id},
    )


_RUN_WRITE = dict(cache_policy=NO_CACHE, retries=4, retry_delay_seconds=[1, 2, 4, 8],
                  retry_condition_fn=retry_if_transient)


@task(name="record-run-start", **_RUN_WRITE)
def record_run_start_task(con: duckdb.DuckDBPyConnection, summary: RunSummary, flow: str) -> None:
    crashed = record_run_start(con, summary, flow)
    if crashed:
        get_run_logger().warning("%d earlier run(s) never finished: marked crashed in the run history", crashed)


@task(name="record-run-end", **_RUN_WRITE)
def record_run_end_task(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    record_run_end(con, summary)


def summary_rows(summary: RunSummary) -> list[dict]:
    rows = [
        {"measure": "files seen", "value": summary.files_seen},
        {"measure": "files unchanged (skipped)", "value": summary.files_unchanged},
        {"measure": "new articles", "value": summary.articles_new},
        {"measure": "duplicates", "value": summary.duplicates},
        *({"measure": f"duplicates ({method})", "value": n} for method, n in sorted(summary.duplicates_by_method.items())),
        {"measure": "rejected", "value": summary.rejected},
        *({"measure": f"rejected: {reason}", "value": n} for reason, n in summary.rejected_by_reason.most_common()),
        {"measure": "seconds", "value": round(summary.seconds, 2)},
        {"measure": "articles per second", "value": round(summary.articles_new / summary.seconds, 1) if summary.seconds else 0},
        {"measure": "lake snapshot", "value": summary.snapshot_id},
    ]
    return rows


def publish_run_artifacts(summary: RunSummary) -> None:
    """The run's story in the Prefect UI: counts, rejected files with reasons, top entities."""
    create_table_artifact(key="ingest-summary", table=summary_rows(summary),
                          description=f"newslake ingest run {summary.run_id}: {summary.status}")
    if summary.rejected_files:
        create_table_artifact(key="ingest-rejected",
                              table=[{"path": p, "reason": r} for p, r in summary.rejected_files],
                              description="Files rejected in this run, with the reason")
    if summary.entity_counts:
        create_table_artifact(key="ingest-top-entities",
                              table=[{"name": n, "label": l, "mentions": c}
                                     for (n, l), c in summary.entity_counts.most_common(TOP_ENTITIES)],
                              description="The entities mentioned most in this run's new articles")
