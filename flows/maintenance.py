"""The maintenance flow: compact the lake and expire old snapshots, holding the writer lock (with a
SQLite catalog; writers sharing a PostgreSQL catalog take none, and compaction does not conflict with
their inserts)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel, Field

from tasks.lake import LakeLocation, open_lake
from tasks.maintenance import SHARED_ORPHAN_AGE, MaintenanceReport, maintain_lake_task
from tasks.writer_lock import writer_lock

FLOW_NAME = "maintenance"


class MaintenanceSettings(BaseModel):
    lake: Path = Field(Path("lake"), description="The DuckLake folder to compact")
    catalog: str | None = Field(None, description="The lake's PostgreSQL catalog (libpq URL), when writers share "
                                                  "it; `lake` is then its data folder")
    retention_days: float = Field(7.0, ge=0, description="Keep snapshots (time travel) this many days back")
    writer_lock_timeout_seconds: float = Field(600.0, ge=0, description="How long to wait for another writer of the lake")


@flow(name=FLOW_NAME)
def maintenance(settings: MaintenanceSettings = MaintenanceSettings()) -> MaintenanceReport:
    logger = get_run_logger()
    location = LakeLocation(settings.lake, settings.catalog)
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=settings.retention_days)
    if location.catalog is None:
        exclusive = writer_lock(settings.lake, settings.writer_lock_timeout_seconds,
                                on_wait=lambda holder: logger.info("waiting for %s to finish writing the lake", holder))
        orphans_before = now
    else:
        exclusive, orphans_before = nullcontext(), now - SHARED_ORPHAN_AGE
    with exclusive:
        con = open_lake(location)
        try:
            report = maintain_lake_task(con, location.data_path, cutoff, orphans_before)
        finally:
            con.close()
    create_table_artifact(key="maintenance-summary", table=report.rows(),
                          description=f"Lake compaction; snapshots before {cutoff:%Y-%m-%d %H:%M} UTC expired")
    logger.info("data files %d -> %d, snapshots %d -> %d", report.before.data_files, report.after.data_files,
                report.before.snapshots, report.after.snapshots)
    return report
