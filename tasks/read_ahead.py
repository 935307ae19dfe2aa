"""Read ahead: the first batch's article bodies, for NER to start on before the flow can.

A one-shot `newslake ingest` starts its own Prefect server, and the flow cannot start until it
answers, seconds later; the NER workers would wait with it. Meanwhile the CLI reads the first batch
as the flow will read it (the same discovery and RecordStream) and queues its bodies with
NerPool.submit_ahead; the flow's first submit takes their entities from there. It decides nothing:
the flow discovers and deduplicates again under the writer lock, and the bodies it does not send to
NER (duplicates) are dropped.

A writer that shares the inbox (a PostgreSQL catalog) has no first batch until it claims one: it
offers what it discovered and claims its first batch here, under its own process, and the flow
adopts that claim (tasks.claimed_records).

Plain functions with no Prefect import: the CLI runs this while Prefect is still being imported.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg

from tasks import claims
from tasks.claimed_records import claim_files
from tasks.discover import Discovery, Scan
from tasks.formats.known_records import KnownRecords
from tasks.read import DEFAULT_MAX_FILE_BYTES, RecordStream


def first_batch_bodies(con: duckdb.DuckDBPyConnection | None, inbox: Path, discovery: Discovery, batch_size: int,
                       max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> list[str]:
    """The bodies of the articles among the first `batch_size` records the flow will read from
    `inbox`, given `discovery` against the lake on `con` (None: no lake yet)."""
    candidates = discovery.scan.candidates
    known_records = KnownRecords(con, [candidate.ref.path for candidate in candidates]) if con is not None else None
    with RecordStream(inbox, candidates, discovery.known.contents, known_records, max_file_bytes) as stream:
        batch = stream.next_batch(batch_size)
    return [result.article.body for result in batch.results if result.article is not None]


def first_claim_bodies(con: duckdb.DuckDBPyConnection | None, claims_con: psycopg.Connection, inbox: Path,
                       discovery: Discovery, batch_size: int) -> list[str]:
    """For a writer sharing the inbox through the claims on `claims_con`: offer what `discovery`
    found, claim a first batch for this process, and return its bodies as first_batch_bodies does."""
    claims.ensure_claims_table(claims_con)
    claims.offer(claims_con, [candidate.ref for candidate in discovery.scan.candidates])
    claim = claim_files(claims_con, claims.Holder.this_process("read-ahead"), batch_size)
    if claim is None:
        return []
    claimed = set(claim.files)
    mine = Scan(candidates=[candidate for candidate in discovery.scan.candidates if candidate.ref in claimed])
    return first_batch_bodies(con, inbox, Discovery(mine, discovery.known), batch_size)
