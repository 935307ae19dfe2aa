"""Lake maintenance: compact small files and drop history beyond the retention, without losing a row.

One batch is one commit, so a lake fed by a watcher grows many small Parquet files and many snapshots.
Maintenance, in DuckLake's own terms and each step its own transaction:

1. rewrite data files heavy with deleted rows, and merge adjacent small files, per table;
2. expire snapshots older than the retention (time travel reaches back that far, no further);
3. delete the files only expired snapshots referenced, and orphans a crashed writer left behind.

The current snapshot always holds every row; only history older than the cutoff goes. Deleting orphans
is safe for files older than any transaction still writing: with a SQLite catalog the caller holds the
lake's writer lock (tasks.writer_lock), so that is every file; with writers sharing a PostgreSQL
catalog, which take no such lock, only files older than SHARED_ORPHAN_AGE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

import sql
from tasks.lake import lake_errors
from tasks.retry import retry_if_transient

STEPS = ("rewrite_data_files", "merge_adjacent_files", "expire_snapshots", "cleanup_old_files",
         "delete_orphaned_files")
# A writer's uncommitted files look like orphans until its batch commits, which takes minutes at most.
SHARED_ORPHAN_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class LakeFootprint:
    data_files: int
    data_bytes: int
    snapshots: int


@dataclass(frozen=True)
class MaintenanceReport:
    before: LakeFootprint
    after: LakeFootprint

    def rows(self) -> list[dict]:
        before, after = asdict(self.before), asdict(self.after)
        return [{"measure": name.replace("_", " "), "before": before[name], "after": after[name]} for name in before]


def footprint(con: duckdb.DuckDBPyConnection, data_path: Path | str) -> LakeFootprint:
    """The files under the lake's data folder or s3:// prefix, listed by DuckDB (which reaches both),
    and the lake's snapshots."""
    pattern = f"{str(data_path).rstrip('/')}/**"
    files = [path for path, in con.execute(sql.load("maintenance/data_files"), {"pattern": pattern}).fetchall()]
    data_bytes = con.execute(sql.load("maintenance/data_bytes"), {"files": files}).fetchone()[0] if files else 0
    return LakeFootprint(data_files=len(files), data_bytes=data_bytes,
                         snapshots=con.execute(sql.load("maintenance/snapshot_count")).fetchone()[0])


@lake_errors()
def maintain_lake(con: duckdb.DuckDBPyConnection, data_path: Path | str, cutoff: datetime,
                  orphans_before: datetime) -> MaintenanceReport:
    """Compact the lake attached to `con` (its Parquet under `data_path`), expire snapshots older
    than `cutoff` and delete orphaned files older than `orphans_before` (aware datetimes)."""
    before = footprint(con, data_path)
    parameters = {"cutoff": cutoff, "orphans_before": orphans_before}
    for step in STEPS:
        query = sql.load(f"maintenance/{step}")
        con.execute(query, {name: value for name, value in parameters.items() if f"${name}" in query} or None)
    return MaintenanceReport(before=before, after=footprint(con, data_path))


@task(name="maintain-lake", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def maintain_lake_task(con: duckdb.DuckDBPyConnection, data_path: Path | str, cutoff: datetime,
                       orphans_before: datetime) -> MaintenanceReport:
    return maintain_lake(con, data_path, cutoff, orphans_before)
