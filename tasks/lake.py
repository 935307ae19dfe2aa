"""The DuckLake: opening it (offline), creating its tables, committing a batch atomically.

The lake is a folder: `catalog.sqlite` (the DuckLake catalog; SQLite lets several processes read
while one writes) and `data/` (Parquet files). Every newslake connection is an in-memory DuckDB with
the lake attached as `lake` and selected with USE, so the contract's table names work unqualified.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import duckdb_extensions
import pyarrow as pa

import sql
from tasks.schema import TABLES

CATALOG_FILE = "catalog.sqlite"
DATA_DIR = "data"
# The extensions come from PyPI packages pinned with duckdb; never fetched at run time.
EXTENSIONS = ("ducklake", "sqlite_scanner")


class LakeNotFound(Exception):
    """A read-only open of a folder that holds no lake yet."""


def _sql_string(value: str) -> str:
    # ATTACH takes no prepared parameters, so the path is quoted here, as a literal, once.
    return "'" + value.replace("'", "''") + "'"


def _offline_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    for name in EXTENSIONS:
        duckdb_extensions.import_extension(name, con=con)
        con.execute(f"LOAD {name}")
    return con


def open_lake(lake_dir: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake at `lake_dir` attached as `lake` and in use.

    A writable open creates the lake and its tables if missing; a read-only open of a missing lake
    raises LakeNotFound rather than creating an empty one.
    """
    lake_dir = Path(lake_dir).resolve()
    catalog = lake_dir / CATALOG_FILE
    if read_only and not catalog.exists():
        raise LakeNotFound(f"no lake at {lake_dir} (run `newslake ingest --lake {lake_dir}` first)")
    if not read_only:
        (lake_dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
    con = _offline_connection()
    options = "READ_ONLY" if read_only else f"DATA_PATH {_sql_string(str(lake_dir / DATA_DIR))}"
    con.execute(f"ATTACH {_sql_string('ducklake:sqlite:' + str(catalog))} AS lake ({options})")
    if not read_only:
        # A writer lives as long as a run or the watcher: DuckDB's cache of the Parquet it reads
        # (near-dedup history, ids) would grow with the lake. The OS page cache serves re-reads.
        con.execute("SET enable_external_file_cache = false")
        _ensure_tables(con)
        _ensure_views(con)
    con.execute("USE lake")
    return con


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables a new lake lacks, and migrate a lake made by an earlier newslake: a
    table or a column added to tasks.schema since then is added, in one transaction, and every
    old row keeps its values (the new columns read NULL for them)."""
    existing: dict[str, set[str]] = {}
    for table, column in con.execute(sql.load("lake_columns")).fetchall():
        existing.setdefault(table, set()).add(column)
    missing_tables = [name for name in TABLES if name not in existing]
    missing_columns = [(name, field) for name, schema in TABLES.items() if name in existing
                       for field in schema if field.name not in existing[name]]
    if not missing_tables and not missing_columns:
        return
    con.execute("BEGIN")
    # Rows go to Parquet, never into the catalog: the lake's data stays readable as plain files.
    con.execute("CALL lake.set_option('data_inlining_row_limit', 0)")
    for name in missing_tables:
        con.register("empty_table", TABLES[name].empty_table())
        con.execute(f"CREATE TABLE IF NOT EXISTS lake.{name} AS SELECT * FROM empty_table WITH NO DATA")
        con.unregister("empty_table")
    for name, field in missing_columns:
        con.execute(f"ALTER TABLE lake.{name} ADD COLUMN {field.name} {_duckdb_type(field.type)}")
    if len(missing_tables) == len(TABLES):  # a new lake: its tables' layout (sorting) goes with them
        con.execute(sql.load("table_layout"))
    con.execute("COMMIT")


def _ensure_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create the views of sql/identity_views.sql a lake lacks (a lake made before them gets them
    on its first writable open); a lake that has them all is left as it is, with no new snapshot."""
    existing = {row[0] for row in con.execute(sql.load("lake_views")).fetchall()}
    statements = [s.strip() for s in sql.load("identity_views").split(";") if s.strip()]
    missing = [s for s in statements if re.search(r"CREATE VIEW lake\.(\w+)", s).group(1) not in existing]
    if not missing:
        return
    con.execute("BEGIN")
    for statement in missing:
        con.execute(statement)
    con.execute("COMMIT")


def _duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type a column of `arrow_type` gets, as CREATE TABLE ... AS from Arrow makes it."""
    probe = duckdb.connect()
    try:
        probe.register("probe", pa.table({"c": pa.array([], arrow_type)}))
        return probe.execute("SELECT column_type FROM (DESCRIBE probe)").fetchone()[0]
    finally:
        probe.close()


def commit_batch(
    con: duckdb.DuckDBPyConnection,
    rows: dict[str, pa.Table],
    touched_files: pa.Table | None = None,
    *,
    run_id: str,
    batch: int,
) -> int | None:
    """Write every table of one batch in ONE DuckLake transaction; return its snapshot id.

    `rows` maps table names to Arrow tables built with tasks.schema; `touched_files` lists files whose
    content is unchanged but whose mtime moved. Either all of it lands or none of it does. Returns
    None when there was nothing to write.
    """
    rows = {name: table for name, table in rows.items() if table.num_rows}
    if not rows and (touched_files is None or touched_files.num_rows == 0):
        return None
    commit_info = json.dumps({"run_id": run_id, "batch": batch})
    con.execute("BEGIN")
    try:
        for name, table in rows.items():
            if table.schema != TABLES[name]:
                raise ValueError(f"batch for {name} does not match its schema")
            con.register("batch_rows", table)
            con.execute(f"INSERT INTO lake.{name} BY NAME SELECT * FROM batch_rows")
            con.unregister("batch_rows")
        if touched_files is not None and touched_files.num_rows:
            con.register("batch_touched", touched_files)
            con.execute(sql.load("refresh_mtimes"))
            con.unregister("batch_touched")
        con.execute("CALL lake.set_commit_message('newslake', 'ingest batch', extra_info => ?)", [commit_info])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return con.execute(sql.load("snapshot_of_commit"), {"commit_info": commit_info}).fetchone()[0]
