"""The DuckLake: opening it (offline), creating its tables, committing a batch atomically.

The lake is a folder: `catalog.sqlite` (the DuckLake catalog; SQLite lets several processes read
while one writes) and `data/` (Parquet files). Every newslake connection is an in-memory DuckDB with
the lake attached as `lake` and selected with USE, so the contract's table names work unqualified.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import duckdb_extensions
import pyarrow as pa

import sql
from tasks.schema import TABLES

if TYPE_CHECKING:
    from tasks.run_history import RunCounts

CATALOG_FILE = "catalog.sqlite"
DATA_DIR = "data"
# The extensions come from PyPI packages pinned with duckdb; never fetched at run time.
EXTENSIONS = ("ducklake", "sqlite_scanner")


class LakeNotFound(Exception):
    """A read-only open of a folder that holds no lake yet."""


class LakeError(Exception):
    """A DuckDB error met reading or writing the lake, classed where it arose (see lake_errors)."""


class TransientLakeError(LakeError):
    """The same call may succeed later: worth retrying."""


class LakeBusy(TransientLakeError):
    """Another process holds the catalog (a lock held past SQLite's busy wait), or a commit
    conflicted with another writer's."""


class LakeStorageFailed(TransientLakeError):
    """Reading or writing the lake's files or catalog failed: a full disk, an I/O error, memory."""


class TerminalLakeError(LakeError):
    """Retrying cannot help: a bad query, a type mismatch, a broken lake."""


def classify_lake_error(exc: duckdb.Error) -> LakeError:
    """The lake error a DuckDB error stands for, by its type: a commit that meets a lock or a
    conflict raises TransactionException; a read that meets the SQLite catalog locked raises
    duckdb's base Error itself (errors from the catalog database carry no finer type)."""
    if isinstance(exc, (duckdb.TransactionException, duckdb.SerializationException)) or type(exc) is duckdb.Error:
        kind: type[LakeError] = LakeBusy
    elif isinstance(exc, duckdb.OperationalError):  # IOException, OutOfMemoryException, ConnectionException
        kind = LakeStorageFailed
    else:
        kind = TerminalLakeError
    return kind(f"{type(exc).__name__}: {exc}")


@contextmanager
def lake_errors():
    """Raise DuckDB errors met inside as LakeError types (usable as a decorator: @lake_errors())."""
    try:
        yield
    except duckdb.Error as exc:
        raise classify_lake_error(exc) from exc


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


def _duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type a column of `arrow_type` gets, as CREATE TABLE ... AS from Arrow makes it."""
    probe = duckdb.connect()
    try:
        probe.register("probe", pa.table({"c": pa.array([], arrow_type)}))
        return probe.execute("SELECT column_type FROM (DESCRIBE probe)").fetchone()[0]
    finally:
        probe.close()


def batch_stamp(run_id: str, batch: int) -> str:
    """What a batch's commit carries as `commit_extra_info`: unique per batch across processes,
    as run ids are (Prefect flow run ids)."""
    return json.dumps({"run_id": run_id, "batch": batch})


def landed_snapshot(con: duckdb.DuckDBPyConnection, stamp: str) -> int | None:
    """The snapshot a commit stamped `stamp` created; None if no such commit is in the lake."""
    return con.execute(sql.load("snapshot_of_commit"), {"commit_info": stamp}).fetchone()[0]


@lake_errors()
def commit_batch(
    con: duckdb.DuckDBPyConnection,
    rows: dict[str, pa.Table],
    touched_files: pa.Table | None = None,
    *,
    run_id: str,
    batch: int,
    run_counts: RunCounts | None = None,
) -> int | None:
    """Write every table of one batch in ONE DuckLake transaction; return its snapshot id.

    `rows` maps table names to Arrow tables built with tasks.schema; `touched_files` lists files whose
    content is unchanged but whose mtime moved; `run_counts`, the run's counts with this batch,
    go to its `runs` row in the same transaction, so the row always matches what landed. Either all
    of it lands or none of it does. Returns None when there was nothing to write.

    Safe to call again for the same (run_id, batch): a batch whose commit already landed (its
    COMMIT went through, then a later step failed and the caller retried) is found by its stamp
    and its snapshot returned, with nothing written twice.
    """
    rows = {name: table for name, table in rows.items() if table.num_rows}
    if not rows and (touched_files is None or touched_files.num_rows == 0):
        return None
    stamp = batch_stamp(run_id, batch)
    con.execute("BEGIN")
    try:
        landed = landed_snapshot(con, stamp)
        if landed is not None:
            con.execute("ROLLBACK")
            return landed
        _write_batch(con, rows, touched_files)
        if run_counts is not None:
            con.execute(sql.load("run_counts"), {"run_id": run_id, **asdict(run_counts)})
        con.execute("CALL lake.set_commit_message('newslake', 'ingest batch', extra_info => ?)", [stamp])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return landed_snapshot(con, stamp)


def _write_batch(con: duckdb.DuckDBPyConnection, rows: dict[str, pa.Table], touched_files: pa.Table | None) -> None:
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
