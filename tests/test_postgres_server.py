"""The project's own PostgreSQL (`make postgres`): started, started again harmlessly, stopped."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from newslake.postgres import HOST, PostgresCluster, PostgresUnavailable

REPO = Path(__file__).resolve().parent.parent


def postgres_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newslake.postgres", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def cluster_dir():
    try:
        PostgresCluster.at("unused")
    except PostgresUnavailable as exc:
        pytest.skip(f"needs PostgreSQL: {exc}")
    parent = Path(tempfile.mkdtemp(prefix="newslake-pg-cli-"))
    parent.chmod(0o755)  # the server's own user must reach the cluster inside
    yield parent / "pg"
    PostgresCluster.at(parent / "pg").stop()
    shutil.rmtree(parent, ignore_errors=True)


def test_postgres_start_is_safe_to_repeat_and_stop_stops(cluster_dir):
    first = postgres_command("start", "--dir", str(cluster_dir))
    assert first.returncode == 0, first.stderr
    url = first.stdout.strip()
    assert url.startswith(f"postgresql://postgres@{HOST}:") and url.endswith("/newslake")
    again = postgres_command("start", "--dir", str(cluster_dir))
    assert again.returncode == 0 and again.stdout.strip() == url
    with psycopg.connect(url) as con:
        assert con.execute("SHOW listen_addresses").fetchone() == (HOST,)
    stopped = postgres_command("stop", "--dir", str(cluster_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert not PostgresCluster.at(cluster_dir).running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)
    restarted = postgres_command("start", "--dir", str(cluster_dir))  # the same cluster, port and database
    assert restarted.returncode == 0 and restarted.stdout.strip() == url


def test_postgres_command_help_has_examples():
    for command in ("start", "stop"):
        result = postgres_command(command, "--help")
        assert result.returncode == 0 and "Example: python -m newslake.postgres" in result.stdout
