"""prefect.yaml: every deployment's entrypoint loads, its parameters validate, its schedule parses, and
it runs one at a time on the local pool; and the artifacts an ingest run leaves for the Prefect UI."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in PREFECT_YAML["deployments"]}
SCHEDULED = ("maintenance", "scheduled-ingest")
MAKEFILE = (ROOT / "Makefile").read_text()


def makefile_variable(name: str) -> str:
    return re.search(rf"^{name} \?= (\S+)$", MAKEFILE, re.M).group(1)


def test_prefect_yaml_has_its_deployments():
    assert set(DEPLOYMENTS) == {*SCHEDULED, "partition", "parallel"}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_deployment_entrypoint_loads_and_parameters_validate(name, monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)  # prefect deploy runs from the project folder; entrypoints are relative to it
    deployment = DEPLOYMENTS[name]
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    validated = flow.validate_parameters(deployment["parameters"])
    paths = [v for v in dict(validated["settings"]).values() if isinstance(v, Path)]
    assert paths and all(not p.is_absolute() for p in paths)  # no machine-specific paths


@pytest.mark.parametrize("name", SCHEDULED)
def test_deployment_schedules_parse(name):
    from prefect.client.schemas.schedules import construct_schedule

    schedules = DEPLOYMENTS[name]["schedules"]
    assert schedules
    for schedule in schedules:
        spec = {k: v for k, v in schedule.items() if k in ("interval", "cron", "timezone", "anchor_date")}
        built = construct_schedule(**spec)
        # What Prefect will run is what prefect.yaml says: the same interval, or the same cron in the same zone.
        if "interval" in spec:
            assert built.interval == timedelta(seconds=spec["interval"])
        else:
            assert (built.cron, built.timezone) == (spec["cron"], spec.get("timezone", "UTC"))


@pytest.mark.parametrize("name", [*SCHEDULED, "parallel"])
def test_deployment_runs_one_at_a_time_on_the_local_pool(name):
    deployment = DEPLOYMENTS[name]
    assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert deployment["work_pool"]["name"] == makefile_variable("POOL")


def test_partition_writers_run_many_at_once_on_the_writers_pool():
    partition = DEPLOYMENTS["partition"]
    assert "concurrency_limit" not in partition
    assert partition["work_pool"]["name"] == makefile_variable("WRITERS_POOL")
    assert DEPLOYMENTS["parallel"]["parameters"]["partition_deployment"] == "ingest/partition"


def test_maintenance_runs_daily():
    [schedule] = DEPLOYMENTS["maintenance"]["schedules"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert minute.isdigit() and hour.isdigit() and (day, month, weekday) == ("*", "*", "*")


def test_ingest_run_artifacts_readable_through_client(inbox, lake_dir, prefect_harness):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.ingest import IngestSettings, ingest

    (inbox / "empty.txt").write_bytes(b"")
    summary = ingest(IngestSettings(seeds=inbox, lake=lake_dir, batch_size=10))  # 4 batches

    async def read_artifacts():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[summary.run_id])))

    artifacts = {a.key: a for a in asyncio.run(read_artifacts())}
    assert set(artifacts) == {"ingest-summary", "ingest-rejected", "ingest-top-entities", "ingest-progress"}
    assert artifacts["ingest-progress"].type == "progress" and float(artifacts["ingest-progress"].data) == 100.0
    assert "empty.txt" in str(artifacts["ingest-rejected"].data)
    assert "articles per second" in str(artifacts["ingest-summary"].data)
