"""Lake maintenance: compact small files and drop history beyond the retention, without losing a row.

One batch is one commit, so a lake fed by a watcher grows many small Parquet files and many snapshots.
Maintenance, in DuckLake's own terms and each step its own transaction:

1. rewrite data files heavy with deleted rows, and merge adjacent small files, per table;
2. expire snapshots older than the retention (time travel reaches back that far, no further);
3. delete the files only expired snapshots referenced, and orphans a crashed writer left behind.

The current snapshot always holds every row; only history older than the cutoff goes. The caller holds
the lake's writer lock (tasks.writer_lock), which is what makes deleting orphans safe.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

import sql
from tasks.lake import DATA_DIR, lake_errors
from tasks.retry import retry_if_transient

STEPS = ("rewrite_data_files", "merge_adjacent_files", "expire_snapshots", "cleanup_old_files",
         "delete_orphaned_files")


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


def footprint(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> LakeFootprint:
    sizes = [entry.stat().st_size for entry in _files(lake_dir / DATA_DIR)]
    return LakeFootprint(data_files=len(sizes), data_bytes=sum(sizes),
                         snapshots=con.execute(sql.load("maintenance/snapshot_count")).fetchone()[0])


def _files(folder: Path):
    for root, _, names in os.walk(folder):
        for name in names:
            yield Path(root, name)


@lake_errors()
def maintain_lake(con: duckdb.DuckDBPyConnection, lake_dir: Path, cutoff: datetime) -> MaintenanceReport:
    """Compact the lake attached to `con` and expire snapshots older than `cutoff` (aware datetime)."""
    before = footprint(con, lake_dir)
    for step in STEPS:
        query = sql.load(f"maintenance/{step}")
        con.execute(query, {"cutoff": cutoff} if "$cutoff" in query else None)
    return MaintenanceReport(before=before, after=footprint(con, lake_dir))


@task(name="maintain-lake", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def maintain_lake_task(con: duckdb.DuckDBPyConnection, lake_dir: Path, cutoff: datetime) -> MaintenanceReport:
    return maintain_lake(con, lake_dir, cutoff)
