"""The DuckLake: opening it (offline), creating its tables, committing a batch atomically.

The lake is a folder: `catalog.sqlite` (the DuckLake catalog; SQLite lets several processes read
while one writes) and `data/` (Parquet files). Past one machine, the catalog is a PostgreSQL database
instead and the folder holds the Parquet files alone, or they go to object storage (see
LakeLocation). Every newslake connection is an in-memory DuckDB with the lake attached as `lake` and
selected with USE, so the contract's table names work unqualified.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import duckdb_extensions

import sql
from tasks.catalog import connect_catalog

# Arrow (and the table schemas built with it) only where the lake is written: importing it is
# half of a read-only command's start-up (`newslake sql`, `runs`, `shell`).
if TYPE_CHECKING:
    import pyarrow as pa

    from tasks.run_history import RunCounts

CATALOG_FILE = "catalog.sqlite"
DATA_DIR = "data"
# The extensions come from PyPI packages pinned with duckdb; never fetched at run time.
EXTENSIONS = ("ducklake", "sqlite_scanner")
POSTGRES_EXTENSIONS = ("ducklake", "postgres_scanner")
OBJECT_STORE_EXTENSIONS = ("httpfs",)  # s3:// data files
OBJECT_STORE_SCHEMES = ("s3://",)
# Writers sharing a PostgreSQL catalog commit optimistically; DuckLake retries a commit that lost the
# race and does not conflict (inserts, compaction). Its default of 10 attempts runs out with many
# writers (PostHog's production use needed 100 with 16), and its default wait grows by 1.5x per
# attempt, without a cap: at 1.05x the 100 attempts span minutes (at 1.5x the last ones would wait years).
CATALOG_COMMIT_RETRIES = 100
CATALOG_RETRY_BACKOFF = 1.05
# Held while a writer attaches and migrates a lake with a PostgreSQL catalog, so writers starting
# together do not race to create the same metadata and tables (all but one of them would fail).
MIGRATION_LOCK_KEY = 0x6E65_7773_6C61_6B65  # "newslake"


class LakeNotFound(Exception):
    """A read-only open of a folder that holds no lake yet."""


class LakeError(Exception):
    """A DuckDB error met reading or writing the lake, classed where it arose (see lake_errors)."""


class TransientLakeError(LakeError):
    """The same call may succeed later: worth retrying. `failure` and `hint` say to a user what
    happened to the lake and what to check, once retrying has not helped."""

    failure = "failed"
    hint = "Run again later."


class LakeBusy(TransientLakeError):
    """Another process holds the catalog (a lock held past SQLite's busy wait), or a commit
    conflicted with another writer's."""

    failure = "was busy"
    hint = "Another process held the lake past the wait: run again once it is done."


class LakeStorageFailed(TransientLakeError):
    """Reading or writing the lake's files or catalog failed: a full disk, an I/O error, memory."""

    failure = "could not be read or written"
    hint = ("Check that the lake's folder (--lake) holds every file its catalog lists (none moved or "
            "deleted), that it is readable and writable, and that the disk has room.")


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


def lake_address(value: str | Path) -> Path | str:
    """Where a lake's data is, as given: an object storage URL (s3://bucket/prefix) stays a string,
    anything else is a local folder."""
    text = str(value)
    return text if text.startswith(OBJECT_STORE_SCHEMES) else Path(text)


class ObjectStoreNeedsCatalog(ValueError):
    """An s3:// lake given without a PostgreSQL catalog: a SQLite catalog is a local file."""


@dataclass(frozen=True)
class LakeLocation:
    """Where a lake is: a folder, and a PostgreSQL catalog (a libpq URL) when writers share it.

    Without a catalog the folder holds the whole lake: `catalog.sqlite` and `data/`. With one, the
    catalog lives in PostgreSQL and the folder is the data folder itself, which every writer must
    reach at the same path (the catalog records it): a local folder on one machine, a shared mount
    across machines, or an object storage URL (s3://bucket/prefix, see object_store_secret).
    """

    folder: Path | str
    catalog: str | None = None

    def __post_init__(self) -> None:
        address = lake_address(self.folder)
        if isinstance(address, str) and self.catalog is None:
            raise ObjectStoreNeedsCatalog(f"a lake in object storage ({address}) needs a PostgreSQL catalog: "
                                          "pass --catalog URL (or set NEWSLAKE_CATALOG)")
        object.__setattr__(self, "folder", address if isinstance(address, str) else address.resolve())

    @classmethod
    def of(cls, lake: Path | str | LakeLocation) -> LakeLocation:
        return lake if isinstance(lake, LakeLocation) else cls(lake)

    @property
    def in_object_store(self) -> bool:
        return isinstance(self.folder, str)

    @property
    def data_path(self) -> Path | str:
        return self.folder / DATA_DIR if self.catalog is None else self.folder

    @property
    def attach_target(self) -> str:
        if self.catalog is None:
            return "ducklake:sqlite:" + str(self.folder / CATALOG_FILE)
        return "ducklake:postgres:" + self.catalog

    def exists(self) -> bool:
        """Whether a lake has been created here (its catalog holds DuckLake's metadata)."""
        if self.catalog is None:
            return (self.folder / CATALOG_FILE).exists()
        with connect_catalog(self.catalog) as session:
            return session.execute(sql.load("catalog_has_lake")).fetchone()[0]

    def describe(self) -> str:
        return str(self.folder) if self.catalog is None else f"{self.catalog} (data in {self.folder})"


@contextmanager
def _migration_lock(catalog: str) -> Iterator[None]:
    """One migrating writer at a time on a shared catalog (with SQLite, the writer lock of
    tasks.writer_lock already admits a single writer)."""
    with connect_catalog(catalog) as session:
        session.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            yield
        finally:
            session.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])


def _sql_string(value: str) -> str:
    # ATTACH takes no prepared parameters, so the path is quoted here, as a literal, once.
    return "'" + value.replace("'", "''") + "'"


def _offline_connection(extensions: tuple[str, ...] = EXTENSIONS) -> duckdb.DuckDBPyConnection:
    # Extensions come only from the pinned PyPI packages, loaded by path: never downloaded, so their
    # signature guards against nothing that could change site-packages. Checking it hashes each
    # extension file on every LOAD, a quarter of a second per connection.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                 "allow_unsigned_extensions": True})
    for name in extensions:
        duckdb_extensions.import_extension(name, con=con)
        con.execute(f"LOAD {name}")
    return con


def object_store_secret(environment: Mapping[str, str]) -> str:
    """The CREATE SECRET (in memory, for this connection) that lets DuckDB reach s3:// data, from
    the AWS SDK's own environment variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION), and AWS_ENDPOINT_URL_S3 (or
    AWS_ENDPOINT_URL) for a store other than AWS (MinIO, Ceph, R2...), addressed path-style."""
    options = {"TYPE": "s3"}
    for option, names in (("KEY_ID", ("AWS_ACCESS_KEY_ID",)), ("SECRET", ("AWS_SECRET_ACCESS_KEY",)),
                          ("SESSION_TOKEN", ("AWS_SESSION_TOKEN",)), ("REGION", ("AWS_REGION", "AWS_DEFAULT_REGION"))):
        value = next((environment[name] for name in names if environment.get(name)), None)
        if value is not None:
            options[option] = _sql_string(value)
    endpoint = environment.get("AWS_ENDPOINT_URL_S3") or environment.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.rstrip("/").rpartition("://")
        options.update(ENDPOINT=_sql_string(host), URL_STYLE="'path'", USE_SSL=str(scheme != "http").lower())
    return "CREATE OR REPLACE SECRET newslake_object_store (" + ", ".join(f"{k} {v}" for k, v in options.items()) + ")"


def open_lake(lake: Path | str | LakeLocation, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake at `lake` (a folder, or a LakeLocation with a PostgreSQL
    catalog) attached as `lake` and in use.

    A writable open creates the lake and its tables if missing; a read-only open of a missing lake
    raises LakeNotFound rather than creating an empty one.
    """
    location = LakeLocation.of(lake)
    if read_only and not location.exists():
        first = ("nothing has written to it yet" if location.catalog
                 else f"run `newslake ingest --lake {location.folder}` first")
        raise LakeNotFound(f"no lake at {location.describe()} ({first})")
    if not read_only and not location.in_object_store:
        location.data_path.mkdir(parents=True, exist_ok=True)
    extensions = EXTENSIONS if location.catalog is None else POSTGRES_EXTENSIONS
    con = _offline_connection(extensions + OBJECT_STORE_EXTENSIONS if location.in_object_store else extensions)
    if location.in_object_store:
        con.execute(object_store_secret(os.environ))
    options = "READ_ONLY" if read_only else f"DATA_PATH {_sql_string(str(location.data_path))}"
    # A writer's ATTACH creates DuckLake's metadata in an empty catalog, and _ensure_schema our tables.
    with nullcontext() if read_only or location.catalog is None else _migration_lock(location.catalog):
        con.execute(f"ATTACH {_sql_string(location.attach_target)} AS lake ({options})")
        if not read_only:
            if location.catalog is not None:
                con.execute(f"SET ducklake_max_retry_count = {CATALOG_COMMIT_RETRIES}")
                con.execute(f"SET ducklake_retry_backoff = {CATALOG_RETRY_BACKOFF}")
            # A writer lives as long as a run or the watcher: DuckDB's cache of the Parquet it reads
            # (near-dedup history, ids) would grow with the lake. The OS page cache serves re-reads.
            con.execute("SET enable_external_file_cache = false")
            _ensure_schema(con)
    con.execute("USE lake")
    return con


def _ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create what the lake lacks of its tables (tasks.schema) and views (sql/identity_views.sql),
    in one transaction: all of them for a new lake; for a lake made by an earlier newslake, the
    tables, columns and views added since, every old row keeping its values (the new columns read
    NULL for them). A lake that has them all is left as it is, with no new snapshot."""
    from tasks.schema import TABLES

    existing: dict[str, set[str]] = {}
    for table, column in con.execute(sql.load("lake_columns")).fetchall():
        existing.setdefault(table, set()).add(column)
    missing_tables = [name for name in TABLES if name not in existing]
    missing_columns = [(name, field) for name, schema in TABLES.items() if name in existing
                       for field in schema if field.name not in existing[name]]
    views = {row[0] for row in con.execute(sql.load("lake_views")).fetchall()}
    statements = [s.strip() for s in sql.load("identity_views").split(";") if s.strip()]
    missing_views = [s for s in statements if re.search(r"CREATE VIEW lake\.(\w+)", s).group(1) not in views]
    if not missing_tables and not missing_columns and not missing_views:
        return
    con.execute("BEGIN")
    if missing_tables or missing_columns:
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
    for statement in missing_views:
        con.execute(statement)
    con.execute("COMMIT")


def _duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type a column of `arrow_type` gets, as CREATE TABLE ... AS from Arrow makes it."""
    import pyarrow as pa

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
    from tasks.schema import TABLES

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
