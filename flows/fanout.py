"""The fan-out flow: N writers of one inbox, each a flow run of the partition deployment on the work pool.

The writers share a lake whose catalog is PostgreSQL and split the inbox between them by claims
(tasks/claims.py): each claims batches until none is left, so the parent hands out no files itself.
The writers are started with `run_deployment` from inside this flow, which makes each one a subflow
of it: the Prefect UI shows the parent with its writers, and each writer with its own artifacts.
The parent waits for all of them, publishes one table of what each did and fails if any of them did.

Without a catalog the writers still run, one after the other (they queue on the lake's writer
lock) and all but the first find nothing new: useful to try the deployments, not to go faster.
"""

from __future__ import annotations

import time
from typing import Annotated
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from pydantic import Field

from flows.ingest import IngestSettings
from tasks.lake import LakeLocation
from tasks.writer_runs import WriterFlowRun, WriterRun, summary_table, writer_runs_task

FLOW_NAME = "ingest-parallel"
PARTITION_DEPLOYMENT = "ingest/partition"  # prefect.yaml's writer deployment of flows/ingest.py:ingest
# A writer's end shows in the parent within this; one read of N flow runs every 2 s is nothing to the server.
POLL_SECONDS = 2.0


class WritersFailed(Exception):
    """Some writers of the fan-out did not complete."""


def _catalog_unset_at_deploy(catalog: str | None) -> bool:
    # `prefect deploy` turns prefect.yaml's `{{ $NEWSLAKE_CATALOG }}` into "" when the variable is unset
    # (and libpq would take "" for the default local server).
    return catalog is not None and not catalog.strip()


def _wait_until_final(flow_run_ids: list[UUID]) -> list[FlowRun]:
    """The flow runs, once every one of them has ended (completed, failed, crashed or cancelled)."""
    with get_client(sync_client=True) as client:
        while True:
            runs = {run.id: run for run in client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)))}
            if len(runs) == len(flow_run_ids) and all(run.state and run.state.is_final() for run in runs.values()):
                return [runs[run_id] for run_id in flow_run_ids]
            time.sleep(POLL_SECONDS)


@flow(name=FLOW_NAME)
def ingest_parallel(settings: IngestSettings = IngestSettings(),
                    writers: Annotated[int, Field(ge=1, description="How many writers (flow runs) to start")] = 2,
                    partition_deployment: str = PARTITION_DEPLOYMENT) -> list[WriterRun]:
    """Start `writers` runs of `partition_deployment`, each ingesting with `settings`, and wait for them.
    `settings.ner_processes` is each writer's own count of NER processes."""
    logger = get_run_logger()
    if _catalog_unset_at_deploy(settings.catalog):
        raise ValueError("the catalog URL is empty: NEWSLAKE_CATALOG was unset when the deployment was made. Export "
                         "it (`export NEWSLAKE_CATALOG=$(make -s postgres)`) and `make deploy` again, or pass "
                         "`settings` with the run")
    location = LakeLocation(settings.lake, settings.catalog)
    if location.catalog is not None:
        location.exists()  # an unreachable catalog fails the parent here, once, rather than every writer
    # Absolute paths in the writers' parameters: each run's own page in the UI says where it read and wrote.
    partition = settings.model_copy(update={"seeds": settings.seeds.resolve(), "lake": location.folder})
    parameters = {"settings": partition.model_dump(mode="json")}
    # timeout=0: start every writer before waiting for any. Started from inside this flow, each is a subflow of it.
    started = [run_deployment(partition_deployment, parameters=parameters, timeout=0,
                              flow_run_name=f"{flow_run.name}-writer-{number}")
               for number in range(1, writers + 1)]
    logger.info("started %d writers of %s: %s", writers, partition_deployment, ", ".join(run.name for run in started))
    finished = _wait_until_final([run.id for run in started])
    runs = writer_runs_task(location, [WriterFlowRun(run.name, str(run.id), run.state.name) for run in finished])
    create_table_artifact(key="ingest-parallel-summary", table=summary_table(runs),
                          description=f"{writers} writers of {partition_deployment}: {settings.seeds} into "
                                      f"{location.describe()}")
    failed = [run for run in runs if run.state != "Completed"]
    if failed:
        raise WritersFailed(f"{len(failed)} of {writers} writers did not complete: "
                            + ", ".join(f"{run.name} ({run.state})" for run in failed))
    logger.info("%d writers: %d new articles, %d duplicates, %d rejected", writers,
                sum(run.articles_new or 0 for run in runs), sum(run.duplicates or 0 for run in runs),
                sum(run.rejected or 0 for run in runs))
    return runs
