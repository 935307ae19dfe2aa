"""Many writers through Prefect (issue 11): the fan-out flow (flows/fanout.py) starts writers of the
`ingest/partition` deployment on the writers' process work pool, served by real `prefect worker`
processes as `make workers` starts them, into a lake whose catalog is a real PostgreSQL; and
maintenance on such a lake holds a Prefect global concurrency limit of 1.

The deployments are made from prefect.yaml with `prefect deploy`, as `make deploy` makes them. The
parent runs in the test's process (a run of `ingest-parallel/parallel` would run the same flow on
the local pool's worker, one more process start).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BBC, BBC_DUPLICATE_PAIR, REPO, cli_environment, poll_until

POOLS = ("newslake-local", "newslake-writers")  # prefect.yaml's work pools: the parent's, the writers'
WORKERS = 2
PREFECT = str(Path(sys.executable).parent / "prefect")


def start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    """A worker of the writers' pool, as `make workers` starts it: one writer at a time."""
    with log.open("wb") as out:
        return subprocess.Popen([PREFECT, "worker", "start", "--pool", POOLS[1], "--limit", "1", "--name", name],
                                cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(worker: subprocess.Popen) -> None:
    """Stop a worker and the flow runs it started (its process group)."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGINT)
        try:
            worker.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    worker.wait()


@pytest.fixture
def small_inbox(tmp_path: Path) -> Path:
    """12 BBC articles, one of them byte-identical to another."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    names = sorted(p.name for p in BBC.iterdir() if p.name not in BBC_DUPLICATE_PAIR)[:10]
    for name in [*names, *BBC_DUPLICATE_PAIR]:
        shutil.copy(BBC / name, folder / name)
    return folder


@pytest.fixture
def work_pools(prefect_harness) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for pool in POOLS:
            try:
                client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            except ObjectAlreadyExists:
                pass


def workers_online(names: list[str]) -> bool:
    """Whether every worker named has reported to the server (it heartbeats once it polls for runs)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return set(names) <= {worker.name for worker in client.read_workers_for_work_pool(POOLS[1])}


def subflows_of(parent_id) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])))


def artifact_keys(flow_run_id) -> set[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {artifact.key for artifact in artifacts}


def test_fanout_runs_two_writers_on_two_workers(catalog_url, harness_api_url, work_pools, small_inbox, tmp_path):
    from prefect import get_client

    import newslake
    from flows.fanout import ingest_parallel
    from flows.ingest import IngestSettings

    env = cli_environment(tmp_path / "prefect-home", harness_api_url, NEWSLAKE_CATALOG=catalog_url,
                          PREFECT_WORKER_QUERY_SECONDS="1")
    names = [f"writer-{n}-{tmp_path.name}" for n in range(WORKERS)]
    logs = [tmp_path / f"{name}.log" for name in names]
    workers = [start_worker(env, name, log) for name, log in zip(names, logs)]  # they start while the deployments are made
    try:
        deploy = subprocess.run([PREFECT, "--no-prompt", "deploy", "--name", "partition", "--name", "parallel"],
                                cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=120)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        # Both polling before the writers are scheduled: else the first one up may take both, in turn.
        assert poll_until(lambda: workers_online(names), timeout=120, interval=0.5), \
            "\n".join(log.read_text(errors="replace") for log in logs)
        lake = tmp_path / "shared-data"
        state = ingest_parallel(IngestSettings(seeds=small_inbox, lake=lake, catalog=catalog_url, ner_processes=1,
                                               batch_size=3), writers=WORKERS, return_state=True)
    finally:
        for worker in workers:
            stop(worker)
    worker_logs = [log.read_text(errors="replace") for log in logs]
    assert state.is_completed(), "\n".join([str(state), *worker_logs])
    # Each writer is a deployment's flow run (`python -m prefect.engine`, given no NER pool, its own
    # starting and stopping): the worker's log shows no traceback and no warning from it.
    for log in worker_logs:
        assert not any(word in log for word in ("Traceback", "TerminationSignal", "Warning")), log
    parent_id = state.state_details.flow_run_id

    children = subflows_of(parent_id)
    assert len(children) == WORKERS and all(child.state.is_completed() for child in children)
    with get_client(sync_client=True) as client:  # each hangs off a task run of the parent, as the UI draws it
        assert {client.read_task_run(child.parent_task_run_id).flow_run_id for child in children} == {parent_id}
    # One writer per worker: each worker started exactly one of them.
    assert sorted(sum(f"Flow run '{child.name}' submitted to infrastructure" in log for child in children)
                  for log in worker_logs) == [1, 1]
    assert "ingest-parallel-summary" in artifact_keys(parent_id)
    assert all("ingest-summary" in artifact_keys(child.id) for child in children)

    con = newslake.connect(lake, catalog=catalog_url)
    try:
        files = con.execute("SELECT path, status FROM files").fetchall()
        article_ids = [row[0] for row in con.execute("SELECT article_id FROM articles").fetchall()]
        runs = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    finally:
        con.close()
    # Every file in exactly one state, one article per story, every writer's run in the run history.
    assert sorted(Path(path).name for path, _ in files) == sorted(p.name for p in small_inbox.iterdir())
    assert sorted(status for _, status in files) == ["duplicate"] + ["ingested"] * 11
    assert len(article_ids) == len(set(article_ids)) == 11
    assert {str(child.id): "completed" for child in children}.items() <= runs.items()


def test_maintenance_with_catalog_holds_the_concurrency_limit(catalog_url, tmp_path, prefect_harness):
    from prefect import get_client
    from prefect.concurrency.sync import concurrency

    from flows.maintenance import CONCURRENCY_LIMIT, MaintenanceSettings, maintenance
    from tasks.lake import LakeLocation, open_lake

    location = LakeLocation(tmp_path / "data", catalog_url)
    open_lake(location).close()
    # The runs that must get the slot wait as long as a real one does (a loaded machine answers the
    # acquisition in more than a second); the one that must not waits a second.
    settings = MaintenanceSettings(lake=location.folder, catalog=catalog_url)
    maintenance(settings)  # creates the limit
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(CONCURRENCY_LIMIT)
    assert (limit.limit, limit.active) == (1, True)

    with concurrency(CONCURRENCY_LIMIT, strict=True):  # another maintenance run holds the slot
        with pytest.raises(TimeoutError):
            maintenance(settings.model_copy(update={"writer_lock_timeout_seconds": 1}))
    maintenance(settings)
