"""The maintenance flow: compact the lake and expire old snapshots, holding the writer lock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel, Field

from tasks.lake import open_lake
from tasks.maintenance import MaintenanceReport, maintain_lake_task
from tasks.writer_lock import writer_lock

FLOW_NAME = "maintenance"


class MaintenanceSettings(BaseModel):
    lake: Path = Field(Path("lake"), description="The DuckLake folder to compact")
    retention_days: float = Field(7.0, ge=0, description="Keep snapshots (time travel) this many days back")
    writer_lock_timeout_seconds: float = Field(600.0, ge=0, description="How long to wait for another writer of the lake")


@flow(name=FLOW_NAME)
def maintenance(settings: MaintenanceSettings = MaintenanceSettings()) -> MaintenanceReport:
    logger = get_run_logger()
    cutoff = datetime.now(timezone.utc) - timedelta(days=settings.retention_days)
    with writer_lock(settings.lake, settings.writer_lock_timeout_seconds,
                     on_wait=lambda holder: logger.info("waiting for %s to finish writing the lake", holder)):
        con = open_lake(settings.lake)
        try:
            report = maintain_lake_task(con, settings.lake.resolve(), cutoff)
        finally:
            con.close()
    create_table_artifact(key="maintenance-summary", table=report.rows(),
                          description=f"Lake compaction; snapshots before {cutoff:%Y-%m-%d %H:%M} UTC expired")
    logger.info("data files %d -> %d, snapshots %d -> %d", report.before.data_files, report.after.data_files,
                report.before.snapshots, report.after.snapshots)
    return report
