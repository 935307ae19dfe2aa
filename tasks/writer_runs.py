"""The writers of a fan-out (flows/fanout.py) as its summary shows them: each writer's Prefect flow
run beside the `runs` row it recorded in the lake.

The counts come from the lake, not from the writers' return values: a flow run's result is kept
only where it ran, and the writers may run on other machines; every writer records its row in the
lake they share.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

import sql
from tasks.lake import LakeLocation, LakeNotFound, lake_errors, open_lake
from tasks.retry import retry_if_transient

# WriterRun's counts, and their headers in the summary table (as the ingest-summary artifact names them).
COUNTS = {"files_seen": "files seen", "articles_new": "new articles", "duplicates": "duplicates",
          "rejected": "rejected"}


@dataclass(frozen=True)
class WriterFlowRun:
    """A writer as Prefect knows it."""

    name: str
    flow_run_id: str
    state: str  # the flow run's final state: Completed, Failed, Crashed, Cancelled


@dataclass(frozen=True)
class WriterRun:
    """A writer, and what its `runs` row says it did (None where it recorded no row)."""

    name: str
    flow_run_id: str
    state: str
    status: str | None = None
    files_seen: int | None = None
    articles_new: int | None = None
    duplicates: int | None = None
    rejected: int | None = None
    seconds: float | None = None


@lake_errors()
def writer_runs(con: duckdb.DuckDBPyConnection, writers: list[WriterFlowRun]) -> list[WriterRun]:
    """Each writer with its `runs` row (the row's run_id is the writer's flow run id), in order."""
    cursor = con.execute(sql.load("runs_of"), {"run_ids": [w.flow_run_id for w in writers]})
    columns = [d[0] for d in cursor.description]
    recorded = {row[0]: dict(zip(columns[1:], row[1:], strict=True)) for row in cursor.fetchall()}
    return [WriterRun(**asdict(w), **recorded.get(w.flow_run_id, {})) for w in writers]


def summary_table(writers: list[WriterRun]) -> list[dict]:
    """One row per writer and a total row, for the fan-out's table artifact."""
    rows = [{"writer": w.name, "state": w.state, **{header: getattr(w, name) for name, header in COUNTS.items()},
             "seconds": w.seconds, "flow run": w.flow_run_id} for w in writers]
    # Each writer scans the whole inbox, so files seen do not add up; what each wrote does.
    totals = {header: None if name == "files_seen" else sum(getattr(w, name) or 0 for w in writers)
              for name, header in COUNTS.items()}
    completed = sum(w.state == "Completed" for w in writers)
    rows.append({"writer": "all writers", "state": f"{completed} of {len(writers)} completed", **totals,
                 "seconds": None, "flow run": None})
    return rows


@task(name="read-writer-runs", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def writer_runs_task(location: LakeLocation, writers: list[WriterFlowRun]) -> list[WriterRun]:
    try:
        con = open_lake(location, read_only=True)
    except LakeNotFound:  # no writer got as far as creating the lake
        return [WriterRun(**asdict(w)) for w in writers]
    try:
        return writer_runs(con, writers)
    finally:
        con.close()
