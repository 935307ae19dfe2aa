"""What the lake already holds of the records of a run's multi-record files.

A container that changed, or whose ingest was interrupted, is read again; a record whose
(`<path>#<n>`, sha256) the lake holds is skipped before it is parsed (tasks.read.RecordStream). One
query per run finds the candidates that have any record rows; only those are asked for their
records, so a run of new files costs one query, not one per file.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

import sql
from tasks.lake import lake_errors


class KnownRecords:
    """Callable: container path -> {(record path, sha256)} the lake holds for it."""

    @lake_errors()
    def __init__(self, con: duckdb.DuckDBPyConnection, candidate_paths: list[str]):
        self._con = con
        con.register("candidate_paths", pa.table({"path": pa.array(candidate_paths, pa.string())}))
        try:
            self._with_records = {row[0] for row in con.execute(sql.load("containers_with_records")).fetchall()}
        finally:
            con.unregister("candidate_paths")

    @lake_errors()
    def __call__(self, container: str) -> set[tuple[str, str]]:
        if container not in self._with_records:
            return set()
        rows = self._con.execute(sql.load("known_records_of_container"), {"container": container}).fetchall()
        return set(rows)
