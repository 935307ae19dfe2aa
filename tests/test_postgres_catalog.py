"""A lake whose DuckLake catalog is PostgreSQL (real server, real DuckLake): opened, written, read,
migrated by writers starting together, queried from the CLI, and compacted while writers insert."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import newslake
from bench.commit_load import ENTITIES_PER_ARTICLE, Writers, synthetic_batch
from newslake.cli import app
from newslake.postgres import free_port, libpq_url
from tasks.catalog import CatalogUnreachable
from tasks.lake import (
    CATALOG_FILE,
    POSTGRES_EXTENSIONS,
    LakeLocation,
    LakeNotFound,
    _offline_connection,
    _sql_string,
    commit_batch,
    open_lake,
)
from tasks.schema import ARTICLES, TABLES

runner = CliRunner()
spawn = multiprocessing.get_context("spawn")


def rows(location: LakeLocation, query: str) -> list[tuple]:
    con = newslake.connect(location.folder, catalog=location.catalog)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


@pytest.fixture
def location(catalog_url, tmp_path) -> LakeLocation:
    return LakeLocation(tmp_path / "data", catalog_url)


def test_postgres_lake_keeps_rows_in_the_data_folder_and_its_catalog_in_postgres(location):
    con = open_lake(location)
    try:
        commit_batch(con, synthetic_batch("w", 0, articles=4), run_id="w", batch=0)
    finally:
        con.close()
    assert rows(location, "SELECT count(*) FROM articles") == [(4,)]
    assert rows(location, "SELECT count(*) FROM entities") == [(4 * ENTITIES_PER_ARTICLE,)]
    assert list(location.folder.rglob("*.parquet"))  # rows go to Parquet, not into the catalog
    assert not (location.folder / CATALOG_FILE).exists()
    catalog_tables = rows(location, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'")
    assert sorted(t for t, in catalog_tables) == sorted(TABLES)


def test_postgres_lake_read_only_open_of_an_empty_catalog_is_lake_not_found(location):
    with pytest.raises(LakeNotFound, match="no lake at postgresql://"):
        open_lake(location, read_only=True)


def test_postgres_lake_unreachable_catalog_is_catalog_unreachable(tmp_path):
    nowhere = LakeLocation(tmp_path, libpq_url(free_port()))
    with pytest.raises(CatalogUnreachable, match="cannot connect"):
        open_lake(nowhere, read_only=True)


def _open_and_report(location: LakeLocation) -> int:
    con = open_lake(location)
    try:
        return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake'").fetchone()[0]
    finally:
        con.close()


def test_postgres_lake_writers_opening_a_new_lake_together_create_it_once(location):
    with spawn.Pool(3) as writers:
        tables_seen = writers.map(_open_and_report, [location] * 3, chunksize=1)
    assert tables_seen == [len(TABLES)] * 3
    snapshots = rows(location, "SELECT count(*) FROM lake.snapshots() WHERE changes['tables_created'] IS NOT NULL")
    assert snapshots == [(1,)]  # one migration created them all; the others found them


def test_postgres_lake_made_by_an_older_newslake_is_migrated_keeping_its_rows(location):
    """The migration step runs on a PostgreSQL catalog as on SQLite: a column and tables that
    tasks.schema gained arrive, the old row stays."""
    old = _offline_connection(POSTGRES_EXTENSIONS)
    old.execute(f"ATTACH {_sql_string(location.attach_target)} AS lake (DATA_PATH {_sql_string(str(location.folder))})")
    old.register("empty_table", pa.schema([f for f in ARTICLES if f.name != "language"]).empty_table())
    old.execute("CREATE TABLE lake.articles AS SELECT * FROM empty_table WITH NO DATA")
    old.execute("INSERT INTO lake.articles (article_id, title) VALUES ('old-1', 'An old story')")
    old.close()
    open_lake(location).close()
    assert {c for c, in rows(location, "SELECT column_name FROM (DESCRIBE articles)")} == set(ARTICLES.names)
    assert rows(location, "SELECT article_id, title, language FROM articles") == [("old-1", "An old story", None)]
    assert rows(location, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake'") == [(len(TABLES),)]


@pytest.fixture
def written_lake(location) -> LakeLocation:
    con = open_lake(location)
    try:
        commit_batch(con, synthetic_batch("w", 0, articles=3), run_id="w", batch=0)
    finally:
        con.close()
    return location


@pytest.mark.parametrize("through", ["option", "environment"])
def test_cli_sql_with_catalog(written_lake, through, monkeypatch):
    args = ["sql", "--lake", str(written_lake.folder), "--format", "json", "SELECT count(*) AS n FROM articles"]
    if through == "option":
        args[1:1] = ["--catalog", written_lake.catalog]
    else:
        monkeypatch.setenv("NEWSLAKE_CATALOG", written_lake.catalog)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": 3}]


def test_cli_runs_with_catalog(written_lake):
    result = runner.invoke(app, ["runs", "--lake", str(written_lake.folder), "--catalog", written_lake.catalog,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []  # no ingest run yet: the table is there, empty


@pytest.mark.parametrize("command", ["ingest", "sql", "runs", "maintain"])
def test_cli_unreachable_catalog_is_a_clear_error(tmp_path, command):
    args = [command, "--lake", str(tmp_path), "--catalog", libpq_url(free_port())]
    extra = {"sql": ["SELECT 1"], "ingest": ["--seeds", str(tmp_path)]}.get(command, [])
    result = runner.invoke(app, args + extra)
    assert result.exit_code == 1
    assert "cannot connect to the catalog" in result.output and "make postgres" in result.output
    assert not isinstance(result.exception, CatalogUnreachable)  # handled, not a traceback


def test_cli_maintain_with_catalog_and_no_lake_is_a_clear_error(location):
    result = runner.invoke(app, ["maintain", "--lake", str(location.folder), "--catalog", location.catalog])
    assert result.exit_code == 1 and "no lake at postgresql://" in result.output


def lake_counts(location: LakeLocation) -> dict[str, int]:
    return {table: rows(location, f"SELECT count(*) FROM {table}")[0][0] for table in ("articles", "entities", "files")}


def test_maintenance_beside_two_writers_fails_none_and_loses_no_row(location, prefect_harness):
    from flows.maintenance import MaintenanceSettings, maintenance

    articles_per_batch = 5
    open_lake(location).close()
    with Writers(location, count=2, articles_per_batch=articles_per_batch) as writers:
        writers.start_committing()
        for _ in range(2):
            maintenance(MaintenanceSettings(lake=location.folder, catalog=location.catalog, retention_days=0))
        committed = writers.finish()
    batches = sum(commits for commits, _ in committed.values())
    assert all(commits >= 1 for commits, _ in committed.values())
    assert lake_counts(location) == {"articles": batches * articles_per_batch,
                                     "entities": batches * articles_per_batch * ENTITIES_PER_ARTICLE,
                                     "files": batches * articles_per_batch}
    assert rows(location, "SELECT count(DISTINCT article_id) = count(*) FROM articles") == [(True,)]


def test_cli_maintain_with_catalog_compacts_and_keeps_rows(location, prefect_harness):
    con = open_lake(location)
    try:
        for batch in range(4):
            commit_batch(con, synthetic_batch("w", batch, articles=2), run_id="w", batch=batch)
    finally:
        con.close()
    before = lake_counts(location)
    result = runner.invoke(app, ["maintain", "--lake", str(location.folder), "--catalog", location.catalog,
                                 "--retention-days", "0"])
    assert result.exit_code == 0, result.output
    assert "data files" in result.output
    assert lake_counts(location) == before
    assert rows(location, "SELECT count(*) FROM lake.snapshots()") == [(1,)]


def test_sqlite_lake_is_still_a_folder_with_its_own_catalog(tmp_path: Path):
    con = open_lake(tmp_path / "lake")
    con.close()
    assert (tmp_path / "lake" / CATALOG_FILE).exists() and (tmp_path / "lake" / "data").is_dir()
