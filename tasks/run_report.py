"""What a flow run reports: its `runs` row, written by Prefect tasks around tasks.run_history's
plain writes (retried when transient), and its summary as Prefect artifacts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import duckdb
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.records import Enrichment
from tasks.retry import retry_if_transient
from tasks.run_history import RunSummary, no_other_run_alive, record_run_end, record_run_start

TOP_ENTITIES = 15
ENTITY_LABELS_OF_INTEREST = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT"}


_RUN_WRITE = dict(cache_policy=NO_CACHE, retries=4, retry_delay_seconds=[1, 2, 4, 8],
                  retry_condition_fn=retry_if_transient)


@task(name="record-run-start", **_RUN_WRITE)
def record_run_start_task(con: duckdb.DuckDBPyConnection, summary: RunSummary, flow: str,
                          alive: Callable[[list[str]], set[str]] = no_other_run_alive) -> None:
    crashed = record_run_start(con, summary, flow, alive)
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


def count_mentions(mentions: Counter, enrichments: list[Enrichment]) -> None:
    """Add a batch's mentions of people, organisations, places and events to `mentions`, by
    (name, label). Kept apart from the RunSummary the flow returns: Prefect walks a flow's return
    value, and this counter has an entry per distinct entity of the run."""
    for enrichment in enrichments:
        mentions.update((e.name, e.label) for e in enrichment.entities if e.label in ENTITY_LABELS_OF_INTEREST)


def publish_run_artifacts(summary: RunSummary, mentions: Counter) -> None:
    """The run's story in the Prefect UI: counts, rejected files with reasons, top entities."""
    create_table_artifact(key="ingest-summary", table=summary_rows(summary),
                          description=f"newslake ingest run {summary.run_id}: {summary.status}")
    if summary.rejected_files:
        create_table_artifact(key="ingest-rejected",
                              table=[{"path": p, "reason": r} for p, r in summary.rejected_files],
                              description="Files rejected in this run, with the reason")
    if mentions:
        create_table_artifact(key="ingest-top-entities",
                              table=[{"name": name, "label": label, "mentions": count}
                                     for (name, label), count in mentions.most_common(TOP_ENTITIES)],
                              description="The entities mentioned most in this run's new articles")
