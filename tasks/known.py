"""Discovery as Prefect tasks: what the lake knows of the files now in the inbox (read with one SQL
semi-join), then the scan of tasks.discover against it.

Discovery needs (path, size, mtime) and (path, sha256) only for paths it will meet, so only those
are read: the cost and the memory follow the inbox, not the lake's whole history.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

import sql
from tasks.discover import KnownFiles, Scan, relative_path, scan_inbox, walk_files
from tasks.retry import retry_if_transient


def inbox_paths(inbox: Path) -> list[str]:
    """Every path tasks.discover.scan_inbox can report for `inbox`, as the lake stores it."""
    root = os.path.realpath(inbox)
    return [relative_path(entry, root)[0] for entry in walk_files(root)]


def known_files_in_inbox(con: duckdb.DuckDBPyConnection, inbox: Path) -> KnownFiles:
    con.register("inbox_paths", pa.table({"path": pa.array(inbox_paths(inbox), pa.string())}))
    try:
        rows = con.execute(sql.load("known_files_in_inbox")).fetchall()
    finally:
        con.unregister("inbox_paths")
    known = KnownFiles()
    for path, size, mtime_ns, sha256 in rows:
        known.stats.add((path, size, mtime_ns))
        if sha256 is not None:
            known.contents.add((path, sha256))
    return known


@task(name="load-known-files", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def known_files_in_inbox_task(con: duckdb.DuckDBPyConnection, inbox: Path) -> KnownFiles:
    return known_files_in_inbox(con, inbox)


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(inbox: Path, known: KnownFiles, min_file_age: float = 0.0) -> Scan:
    return scan_inbox(inbox, known.stats, min_file_age)
