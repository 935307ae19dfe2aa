"""A lake made by an earlier newslake opens and is migrated: new tables and columns arrive, old rows stay."""

from __future__ import annotations

import pyarrow as pa

from tasks import schema
from tasks.lake import CATALOG_FILE, DATA_DIR, _offline_connection, open_lake


def _make_old_lake(lake_dir, dropped_columns: dict[str, set[str]], dropped_tables: set[str]) -> None:
    """A lake as an earlier release wrote it: some tables without some of today's columns, some
    tables missing altogether, one articles row."""
    (lake_dir / DATA_DIR).mkdir(parents=True)
    con = _offline_connection()
    con.execute(f"ATTACH 'ducklake:sqlite:{lake_dir / CATALOG_FILE}' AS lake (DATA_PATH '{lake_dir / DATA_DIR}')")
    for name, table_schema in schema.TABLES.items():
        if name in dropped_tables:
            continue
        old = pa.schema([f for f in table_schema if f.name not in dropped_columns.get(name, set())])
        con.register("empty_table", old.empty_table())
        con.execute(f"CREATE TABLE lake.{name} AS SELECT * FROM empty_table WITH NO DATA")
        con.unregister("empty_table")
    con.execute("INSERT INTO lake.articles (article_id, title, body) VALUES ('old-1', 'An old story', 'Its body')")
    con.close()


def test_old_lake_gains_new_columns_and_tables_and_keeps_its_rows(tmp_path):
    lake_dir = tmp_path / "lake"
    _make_old_lake(lake_dir, {"articles": {"format", "language"}}, {"shingle_sketches"})

    con = open_lake(lake_dir)
    try:
        columns = {row[0] for row in con.execute("SELECT column_name FROM (DESCRIBE articles)").fetchall()}
        assert columns == set(schema.ARTICLES.names)
        assert con.execute("SELECT article_id, title, body, format, language FROM articles").fetchall() == [
            ("old-1", "An old story", "Its body", None, None)]
        assert con.execute("SELECT count(*) FROM shingle_sketches").fetchone() == (0,)
    finally:
        con.close()


def test_migrated_lake_is_not_migrated_again(tmp_path):
    lake_dir = tmp_path / "lake"
    _make_old_lake(lake_dir, {"files": {"mtime_ns"}}, set())
    open_lake(lake_dir).close()
    con = open_lake(lake_dir)
    try:
        snapshots = con.execute("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0]
    finally:
        con.close()
    open_lake(lake_dir).close()
    con = open_lake(lake_dir)
    try:
        assert con.execute("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0] == snapshots
    finally:
        con.close()
