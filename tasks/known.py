"""What the lake knows of the files now in the inbox, read with one SQL semi-join.

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
from tasks.discover import KnownFiles, _path_as_text
from tasks.retry import retry_if_transient


def inbox_paths(inbox: Path) -> list[str]:
    """Every path below `inbox` (files and folders, ignored ones too, symlinks not followed),
    relative with forward slashes: a superset of the paths tasks.discover.scan_inbox reports."""
    root = os.path.realpath(inbox)
    paths = []
    for folder, dirs, files in os.walk(root):
        base = Path(os.path.relpath(folder, root))
        # Stored as discovery stores them: a name that is not UTF-8 with its odd bytes as \xNN.
        paths.extend(_path_as_text((base / name).as_posix())[0] for name in (*dirs, *files))
    return paths


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
