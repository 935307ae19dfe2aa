"""newslake.prefect_server: the per-run Prefect server of every command that runs flows (ingest,
maintain) starts from a migrated database, even on the first run on a machine (the cache `make
install` fills)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from newslake.prefect_server import fresh_database_copy
from tests.conftest import SEED, cli_environment

NEWSLAKE = Path(sys.executable).with_name("newslake")
# A table no Prefect database has: put into the cached copy, it shows which databases came from it.
MARKER = "newslake_test_cached_copy"


def sqlite_rows(database: Path, query: str) -> list[tuple]:
    # Closed when done: Prefect's database is in WAL mode, and a write reaches the file itself
    # (which is what gets copied) only at a checkpoint, which the last connection to close does.
    with closing(sqlite3.connect(database, isolation_level=None)) as con:
        return con.execute(query).fetchall()


def test_install_step_caches_a_migrated_database_that_new_homes_start_from(tmp_path):
    # What `make install` made (`make test` installs first): its migrations are what a test replaying
    # them would cost, every run. A copy of it, so that the marker stays in this test's cache.
    installed = fresh_database_copy()
    assert installed.exists(), f"no {installed}: `make install` runs `python -m newslake.prefect_server prepare`"
    fresh = tmp_path / "cache" / "newslake" / installed.name
    fresh.parent.mkdir(parents=True)
    shutil.copyfile(installed, fresh)
    assert sqlite_rows(fresh, "SELECT count(*) FROM alembic_version") == [(1,)]  # migrated
    assert sqlite_rows(fresh, "SELECT count(*) FROM flow_run") == [(0,)]  # and nothing run yet
    env = cli_environment(None, XDG_CACHE_HOME=str(tmp_path / "cache"))  # `prepare` uses a home of its own
    prepare = [sys.executable, "-m", "newslake.prefect_server", "prepare"]
    sqlite_rows(fresh, f"CREATE TABLE {MARKER} (x INTEGER)")
    subprocess.run(prepare, env=env, check=True, timeout=120)  # finds the cache: leaves it as it is
    assert sqlite_rows(fresh, f"SELECT count(*) FROM {MARKER}") == [(0,)]

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SEED.name).write_bytes(SEED.read_bytes())
    home = tmp_path / "home"
    run = subprocess.run([str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(tmp_path / "lake")],
                         env=cli_environment(home, XDG_CACHE_HOME=str(tmp_path / "cache")), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "new articles      1" in run.stdout
    # The new home's database is the cached copy (it has the marker), with this run added.
    assert sqlite_rows(home / "prefect.db", f"SELECT count(*) FROM {MARKER}") == [(0,)]
    assert sqlite_rows(home / "prefect.db", "SELECT count(*) FROM flow_run") == [(1,)]

    # So does `newslake maintain`'s, in a home of its own. Prefect's ephemeral server would replay
    # the migrations instead (its database without the marker), and time out on a busy machine.
    home = tmp_path / "maintain-home"
    run = subprocess.run([str(NEWSLAKE), "maintain", "--lake", str(tmp_path / "lake")],
                         env=cli_environment(home, XDG_CACHE_HOME=str(tmp_path / "cache")), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "snapshots" in run.stdout
    assert sqlite_rows(home / "prefect.db", f"SELECT count(*) FROM {MARKER}") == [(0,)]
    assert sqlite_rows(home / "prefect.db", "SELECT name FROM flow") == [("maintenance",)]
