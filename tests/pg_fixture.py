"""A real PostgreSQL server for the tests of the multi-writer mode, started once per session.

The cluster lives in a temp folder on a free port and is stopped at the end. Where the PostgreSQL
binaries are missing, the tests that need it skip, saying so; everything else runs.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator:
    from newslake.postgres import PostgresCluster, PostgresUnavailable

    try:
        cluster = PostgresCluster.at(Path(tempfile.mkdtemp(prefix="newslake-pg-")) / "cluster")
    except PostgresUnavailable as exc:
        pytest.skip(f"needs PostgreSQL: {exc}")
    # mkdtemp's folder is private to us; the server's own user must reach the cluster inside it.
    cluster.folder.parent.chmod(0o755)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder.parent, ignore_errors=True)


@pytest.fixture
def catalog_url(postgres_cluster) -> str:
    """The URL of a database of its own for this test (a lake catalog, claims)."""
    return postgres_cluster.create_database(f"test_{next(_databases)}")


@pytest.fixture
def claims_con(catalog_url):
    """A connection to a test database of its own, holding the claims table."""
    from tasks import claims

    con = claims.connect(catalog_url)
    claims.ensure_claims_table(con)
    yield con
    con.close()
