"""Shared fixtures: one Prefect test harness for the whole session, temp lakes and inboxes.

Everything is real: a DuckLake in a temp folder, the spaCy model, Prefect's engine and a temporary
Prefect server. The fixtures used here ship in tests/fixtures, so a fresh clone needs nothing else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

# Prefect's home must be settled before Prefect is first imported.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="newslake-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The harness's server, like newslake's own per-run server (newslake.prefect_server), serves no UI and
# registers no block types: no test uses them, and they are most of its start-up after the imports.
os.environ.setdefault("PREFECT_UI_ENABLED", "false")
os.environ.setdefault("PREFECT_API_BLOCKS_REGISTER_ON_START", "false")
# Nor does it run the services that look for work on a timer (schedules, late or paused runs, lost
# workers, automations, database cleanup): no test uses them. What records runs (the task run
# recorder) runs as always.
for service in ("SCHEDULER", "LATE_RUNS", "FOREMAN", "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP", "REPOSSESSOR",
                "TRIGGERS", "DB_VACUUM", "CLEANUP_RECONCILER"):
    os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")
# No test reads a run's logs or events back from the server: logs are not sent, and events are not
# stored (the task run recorder still makes the task runs' states, which tests read, from them). A
# fifth of the server's CPU per flow run.
NO_LOGS_TO_API = {"PREFECT_LOGGING_TO_API_ENABLED": "false"}  # also for subprocesses reporting to it
for name, value in NO_LOGS_TO_API.items():
    os.environ.setdefault(name, value)
os.environ.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED", "false")

pytest_plugins = ("tests.pg_fixture",)  # postgres_cluster, catalog_url: a real PostgreSQL server

# The modules that take longest, longest first (as measured on 2 cores). `make test` hands whole
# modules to its 2 workers in collection order (--dist loadfile --no-loadscope-reorder): these go
# first, and the many short modules fill in after them, so both workers finish at about the same time
# instead of one starting a long module when the other is nearly done.
LONGEST_MODULES = (
    "test_multiwriter.py", "test_crash.py", "test_fanout.py", "test_watch.py", "test_ingest_flow.py",
    "test_faults.py", "test_postgres_catalog.py", "test_object_store.py", "test_maintenance.py",
    "test_shell.py", "test_readme.py", "test_ner.py", "test_prefect_server.py", "test_concurrency.py", "test_flow_run_end.py",
    "test_cli.py", "test_formats.py", "test_identity.py", "test_sql_command.py", "test_near_dedup.py",
    "test_bad_input.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest modules first (LONGEST_MODULES); the others after them, as collected. A module's
    tests stay together and in their order."""
    rank = {name: n for n, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))

REPO = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SEED = Path(__file__).parent.parent / "seeds" / "000_0c9d4e5cefc4f513.txt"
BBC = FIXTURES / "bbc"
BBC_DUPLICATE_PAIR = ("tech_004.txt", "tech_063.txt")  # byte-identical in the BBC corpus


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness, its server's new database started from the migrated copy that
    `make install` caches (newslake.prefect_server), as every newslake server's is: replaying the
    migrations is most of the harness's start-up."""
    from prefect.testing import utilities

    from newslake.prefect_server import TASK_RUN_RECORDER_BATCHING, fresh_database_copy

    new_folder = utilities.mkdtemp

    def folder_with_migrated_database() -> str:
        folder = new_folder()
        if fresh_database_copy().exists():
            shutil.copyfile(fresh_database_copy(), Path(folder) / "prefect-test.db")
        return folder

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utilities, "mkdtemp", folder_with_migrated_database)
        for name, value in TASK_RUN_RECORDER_BATCHING.items():
            patch.setenv(name, os.environ.get(name, value))
        with utilities.prefect_test_harness(server_startup_timeout=120):
            from newslake.environment import without_flow_heartbeats

            with without_flow_heartbeats():  # as the CLI and the watcher run their flows
                yield


@pytest.fixture(scope="session")
def harness_api_url(prefect_harness) -> str:
    """The API of the session's Prefect server, for a subprocess to report to: it then spends no
    time booting a server of its own."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def cli_environment(prefect_home: Path | None, api_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `newslake` (or Python) subprocess: none of this session's Prefect and
    newslake settings, the Prefect home `prefect_home` (None: Prefect's default), this checkout's
    code on the path. It reports to the Prefect server at `api_url`; with none, it starts its own,
    as a user's run does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSLAKE_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(REPO), **extra)
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    if api_url is not None:  # the session's server, which keeps no logs (above)
        env.update(PREFECT_API_URL=api_url, **NO_LOGS_TO_API)
    return env


# A few BBC articles, the byte-identical pair among them, and one more long story to change.
SMALL_INBOX_BBC = ("business_001.txt", "entertainment_019.txt", *BBC_DUPLICATE_PAIR)


def fill_inbox(folder: Path, bbc: tuple[str, ...] | None = None) -> Path:
    """`folder` with the seed article and, under bbc/, the BBC articles named in `bbc` (all 33
    with None)."""
    if bbc is None:
        shutil.copytree(BBC, folder / "bbc")
    else:
        (folder / "bbc").mkdir(parents=True)
        for name in bbc:
            shutil.copy(BBC / name, folder / "bbc" / name)
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """The seed article plus 33 BBC articles (one byte-identical pair): 34 files, 33 articles."""
    return fill_inbox(tmp_path / "inbox")


@pytest.fixture
def small_inbox(tmp_path: Path) -> Path:
    """The seed article plus the BBC articles of SMALL_INBOX_BBC (one byte-identical pair): 5 files,
    4 articles. For runs whose point needs no more than that (a run of it costs half one of `inbox`,
    most of which is NER)."""
    return fill_inbox(tmp_path / "inbox", SMALL_INBOX_BBC)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def lake_rows(lake: Path, sql: str, params=None) -> list[tuple]:
    """Rows of a query on the lake, through a read-only connection as users open it."""
    import newslake

    con = newslake.connect(lake)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def ingest_seeds(seeds: Path, lake: Path) -> None:
    """Copy seeds/ (6 articles, 1 exact duplicate) to `seeds` and ingest it into `lake` with the
    real CLI (in this process: under the prefect_harness fixture)."""
    from typer.testing import CliRunner

    from newslake.cli import app

    shutil.copytree(SEED.parent, seeds)
    result = CliRunner().invoke(app, ["ingest", "--seeds", str(seeds), "--lake", str(lake)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def seeded_lake(tmp_path_factory, prefect_harness) -> Path:
    """A lake ingested from seeds/, once per session. Read-only for the tests that share it (a
    DuckLake records its data folder's absolute path: a copy of it is no lake of its own)."""
    folder = tmp_path_factory.mktemp("seeded")
    ingest_seeds(folder / "inbox", folder / "lake")
    return folder / "lake"


def lake_state(lake: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder in the lake with its size and mtime: equal before and after means
    nothing was written."""
    return {str(p.relative_to(lake)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(lake.rglob("*"))}


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def poll_until(condition, timeout: float, interval: float) -> bool:
    """Whether `condition()` became true within `timeout` seconds, checked every `interval`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
