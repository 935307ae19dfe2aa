"""newslake.prefect_server: the per-run Prefect server starts from a migrated database, even on the
first run on a machine (the cache `make install` fills)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEED

NEWSLAKE = Path(sys.executable).with_name("newslake")


def test_install_step_caches_a_migrated_database_that_new_homes_start_from(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSLAKE_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    for _ in range(2):  # the second call finds the cache and returns at once
        subprocess.run([sys.executable, "-m", "newslake.prefect_server", "prepare"], env=env, check=True, timeout=120)
    [fresh] = (tmp_path / "cache" / "newslake").glob("prefect-*-fresh.db")
    assert fresh.stat().st_size > 0

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / SEED.name).write_bytes(SEED.read_bytes())
    home = tmp_path / "home"
    run = subprocess.run([str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(tmp_path / "lake")],
                         env={**env, "PREFECT_HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "new articles      1" in run.stdout
    assert (home / "prefect.db").stat().st_size >= fresh.stat().st_size  # the copy, with this run added
