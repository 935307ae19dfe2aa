"""The Prefect tasks of a run's start: discover the inbox (tasks.discover), load what the lake holds of
its multi-record files (tasks.formats.known_records), offer the files to writers sharing the inbox
(tasks.claims), read a batch of records (tasks.read).

A module of their own: the plain functions must not import Prefect, because the CLI uses them before
Prefect is imported (its no-op check, and its read-ahead of the first batch: tasks.read_ahead).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import claims
from tasks.claimed_records import ClaimedRecords
from tasks.discover import Discovery, discover
from tasks.formats.known_records import KnownRecords
from tasks.read import ReadBatch, RecordStream
from tasks.records import FileRef
from tasks.retry import retry_if_transient


@task(name="discover", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def discover_task(con: duckdb.DuckDBPyConnection, inbox: Path, min_file_age: float = 0.0) -> Discovery:
    return discover(con, inbox, min_file_age)


@task(name="load-known-records", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def known_records_task(con: duckdb.DuckDBPyConnection, candidate_paths: list[str]) -> KnownRecords:
    return KnownRecords(con, candidate_paths)


@task(name="offer-files", cache_policy=NO_CACHE)
def offer_task(claims_con: psycopg.Connection, files: list[FileRef]) -> int:
    return claims.offer(claims_con, files)


@task(name="read-batch", cache_policy=NO_CACHE)
def read_batch_task(stream: RecordStream | ClaimedRecords, max_records: int) -> ReadBatch:
    return stream.next_batch(max_records)
