"""The maintenance flow: compact the lake and expire old snapshots, holding the writer lock (with a
SQLite catalog). Writers sharing a PostgreSQL catalog take no such lock, and compaction does not
conflict with their inserts; maintenance runs there hold a slot of a Prefect global concurrency
limit of 1 instead, so two of them, started from any machine, never compact the same files at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists
from pydantic import BaseModel, Field

from flows.lake_address import LakeAddress
from tasks.lake import LakeLocation, open_lake
from tasks.maintenance import SHARED_ORPHAN_AGE, MaintenanceReport, maintain_lake_task
from tasks.writer_lock import writer_lock

FLOW_NAME = "maintenance"
# The Prefect global concurrency limit maintenance on a shared catalog holds; created with a limit of
# 1 where missing (`prefect gcl inspect newslake-maintenance` shows it and who holds its slot).
CONCURRENCY_LIMIT = "newslake-maintenance"


class MaintenanceSettings(BaseModel):
    lake: LakeAddress = Field(Path("lake"), description="The DuckLake folder to compact")
    catalog: str | None = Field(None, description="The lake's PostgreSQL catalog (libpq URL), when writers share "
                                                  "it; `lake` is then its data folder or s3:// URL")
    retention_days: float = Field(7.0, ge=0, description="Keep snapshots (time travel) this many days back")
    writer_lock_timeout_seconds: float = Field(600.0, ge=0, description="How long to wait for another writer of the "
                                                                        "lake (SQLite catalog), or for another "
                                                                        "maintenance run (PostgreSQL catalog)")


def ensure_concurrency_limit(name: str, limit: int) -> None:
    """Create the global concurrency limit `name` if the Prefect server has none of that name (one
    that exists is left as it is). Acquiring a limit that does not exist acquires nothing."""
    with get_client(sync_client=True) as client:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
        except ObjectAlreadyExists:
            pass


def one_maintenance_at_a_time(timeout_seconds: float):
    """A slot of the maintenance limit, held for the block; TimeoutError after `timeout_seconds`."""
    ensure_concurrency_limit(CONCURRENCY_LIMIT, 1)
    # strict: a limit deleted meanwhile is an error, not a free pass. The slot is a lease the client
    # renews in the background; a renewal that fails (a server restart) does not stop a compaction
    # half-way: at worst two maintenance runs overlap and one fails on a conflict.
    return concurrency(CONCURRENCY_LIMIT, timeout_seconds=timeout_seconds, strict=True,
                       raise_on_lease_renewal_failure=False)


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
        exclusive = one_maintenance_at_a_time(settings.writer_lock_timeout_seconds)
        orphans_before = now - SHARED_ORPHAN_AGE
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
