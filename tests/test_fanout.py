"""Many writers through Prefect (issue 11): maintenance on a lake whose catalog is a real PostgreSQL
holds a Prefect global concurrency limit of 1."""

from __future__ import annotations

import pytest


def test_maintenance_with_catalog_holds_the_concurrency_limit(catalog_url, tmp_path, prefect_harness):
    from prefect import get_client
    from prefect.concurrency.sync import concurrency

    from flows.maintenance import CONCURRENCY_LIMIT, MaintenanceSettings, maintenance
    from tasks.lake import LakeLocation, open_lake

    location = LakeLocation(tmp_path / "data", catalog_url)
    open_lake(location).close()
    settings = MaintenanceSettings(lake=location.folder, catalog=catalog_url, writer_lock_timeout_seconds=1)
    maintenance(settings)  # creates the limit
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(CONCURRENCY_LIMIT)
    assert (limit.limit, limit.active) == (1, True)

    with concurrency(CONCURRENCY_LIMIT, strict=True):  # another maintenance run holds the slot
        with pytest.raises(TimeoutError):
            maintenance(settings)
    maintenance(settings)
