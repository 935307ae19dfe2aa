"""Discovery (tasks.discover) as a Prefect task: one walk of the inbox against what the lake holds of
its paths. A module of its own because tasks.discover must not import Prefect (the CLI's no-op run
uses it)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.discover import Discovery, discover
from tasks.retry import retry_if_transient


@task(name="discover", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def discover_task(con: duckdb.DuckDBPyConnection, inbox: Path, min_file_age: float = 0.0) -> Discovery:
    return discover(con, inbox, min_file_age)
