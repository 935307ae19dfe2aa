"""tasks.lake.commit_batch on a real DuckLake: one transaction per batch, safe to retry, and the
lake boundary's classing of DuckDB errors into transient and terminal types."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest

from tasks import schema
from tasks.lake import (
    LakeBusy,
    LakeStorageFailed,
    TerminalLakeError,
    TransientLakeError,
    batch_stamp,
    classify_lake_error,
    commit_batch,
    lake_errors,
    landed_snapshot,
    open_lake,
)
from tasks.retry import is_transient
from tasks.run_history import RunCounts, RunSummary, record_run_start

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def con(tmp_path):
    connection = open_lake(tmp_path / "lake")
    yield connection
    connection.close()


def batch_rows(*ids: str) -> dict[str, pa.Table]:
    return {"articles": pa.Table.from_pylist([{"article_id": i, "body": f"body of {i}"} for i in ids], schema.ARTICLES),
            "files": pa.Table.from_pylist([{"path": f"{i}.txt", "status": "ingested", "article_id": i} for i in ids],
                                          schema.FILES)}


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_commit_batch_again_with_same_stamp_writes_nothing_twice(con):
    first = commit_batch(con, batch_rows("a", "b"), run_id="run-1", batch=0)
    again = commit_batch(con, batch_rows("a", "b"), run_id="run-1", batch=0)
    assert again == first == landed_snapshot(con, batch_stamp("run-1", 0))
    assert (count(con, "articles"), count(con, "files")) == (2, 2)


def test_commit_batch_stamp_is_per_run_and_batch(con):
    snapshots = {commit_batch(con, batch_rows(f"{run}-{batch}"), run_id=run, batch=batch)
                 for run in ("run-1", "run-2") for batch in (0, 1)}
    assert len(snapshots) == 4 and count(con, "articles") == 4


def test_commit_batch_writes_run_counts_in_its_transaction(con):
    summary = RunSummary(run_id="run-1", started_at=STARTED)
    record_run_start(con, summary, "ingest")
    snapshot = commit_batch(con, batch_rows("a"), run_id="run-1", batch=0, run_counts=RunCounts(5, 1, 3, 1))
    assert con.execute("SELECT status, files_seen, articles_new, duplicates, rejected, snapshot_id FROM runs"
                       ).fetchall() == [("running", 5, 1, 3, 1, snapshot)]


def test_commit_batch_failing_insert_leaves_lake_and_run_row_unchanged(con):
    record_run_start(con, RunSummary(run_id="run-1", started_at=STARTED), "ingest")
    rows = batch_rows("a")
    rows["sources"] = pa.table({"article_id": ["a"]})  # not the sources schema: refused mid-transaction
    with pytest.raises(ValueError):
        commit_batch(con, rows, run_id="run-1", batch=0, run_counts=RunCounts(1, 1, 0, 0))
    assert count(con, "articles") == 0
    assert con.execute("SELECT files_seen, articles_new, snapshot_id FROM runs").fetchall() == [(0, 0, None)]
    assert landed_snapshot(con, batch_stamp("run-1", 0)) is None


@pytest.mark.parametrize(("error", "kind"), [
    (duckdb.TransactionException("Failed to commit DuckLake transaction"), LakeBusy),
    (duckdb.Error("Failed to query most recent snapshot for DuckLake"), LakeBusy),
    (duckdb.IOException("could not write file"), LakeStorageFailed),
    (duckdb.OutOfMemoryException("could not allocate"), LakeStorageFailed),
    (duckdb.CatalogException("Table with name nope does not exist"), TerminalLakeError),
    (duckdb.ConversionException("Could not convert string"), TerminalLakeError),
    (duckdb.ParserException("syntax error"), TerminalLakeError),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__)
def test_classify_lake_error_by_type(error, kind):
    classified = classify_lake_error(error)
    assert type(classified) is kind
    assert is_transient(classified) is issubclass(kind, TransientLakeError)


def test_lake_errors_classes_a_real_duckdb_error(con):
    with pytest.raises(TerminalLakeError) as raised:
        with lake_errors():
            con.execute("SELECT * FROM no_such_table")
    assert isinstance(raised.value.__cause__, duckdb.CatalogException) and not is_transient(raised.value)
