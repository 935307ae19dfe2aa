"""Commit: turn one batch's records into Arrow tables and write them in one DuckLake transaction."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import schema
from tasks.dedup import Deduplicated
from tasks.lake import commit_batch
from tasks.near_dedup import minhash_band_rows, shingle_sketch_rows
from tasks.read import ReadResult
from tasks.records import Enrichment
from tasks.retry import retry_if_transient
from tasks.run_history import RunCounts


def build_batch_rows(
    batch: Deduplicated, enrichments: list[Enrichment], *, run_id: str, now: datetime,
    containers: list[ReadResult] = (),
) -> dict[str, pa.Table]:
    """Rows for every table the batch touches. `enrichments` pairs with `batch.new`, in order;
    `containers` are multi-record files whose records have all been read (tasks.read.ReadBatch)."""
    if len(enrichments) != len(batch.new):
        raise ValueError("every new article needs its enrichment before it can be committed")
    articles, entities, sources, files, duplicates = [], [], [], [], []
    quotes = []

    def file_row(result: ReadResult, status: str, article_id: str | None, reason: str | None) -> dict:
        return {"path": result.ref.path, "sha256": result.sha256, "size": result.ref.size,
                "mtime_ns": result.ref.mtime_ns, "status": status, "reason": reason,
                "article_id": article_id, "run_id": run_id, "seen_at": now}

    for (result, article_id), enrichment in zip(batch.new, enrichments):
        article = result.article
        articles.append({
            "article_id": article_id, "title": article.title, "dek": article.dek,
            "alt_title": article.alt_title, "authors": article.authors, "outlet": article.outlet,
            "published_at": article.published_at, "body": article.body,
            "image_caption": article.image_caption, "image_credit": article.image_credit,
            "topic": article.topic, "word_count": enrichment.word_count,
            "language": enrichment.language, "format": article.format,
            "source_path": result.ref.path, "file_sha256": result.sha256, "run_id": run_id,
            "ingested_at": now, "url": article.url, "source_domain": article.source_domain,
            "summary_only": article.summary_only,
        })
        entities.extend(
            {"article_id": article_id, "text": e.text, "name": e.name, "label": e.label,
             "start_char": e.start_char, "end_char": e.end_char}
            for e in enrichment.entities
        )
        sources.extend({"article_id": article_id, "source": s} for s in enrichment.sources)
        quotes.extend(
            {"article_id": article_id, "quote": q.quote, "speaker": q.speaker, "speaker_label": q.speaker_label,
             "cue": q.cue, "start_char": q.start_char, "end_char": q.end_char}
            for q in enrichment.quotes
        )
        files.append(file_row(result, "ingested", article_id, None))
    for mark in batch.duplicates:
        duplicates.append({"source_path": mark.file.ref.path, "file_sha256": mark.file.sha256,
                           "article_id": mark.article_id, "method": mark.method,
                           "similarity": mark.similarity, "run_id": run_id})
        files.append(file_row(mark.file, "duplicate", mark.article_id, None))
    for result in batch.rejected:
        files.append(file_row(result, "rejected", None, result.rejection))
    files.extend(file_row(container, "container", None, None) for container in containers)
    return {
        "articles": pa.Table.from_pylist(articles, schema.ARTICLES),
        "entities": pa.Table.from_pylist(entities, schema.ENTITIES),
        "sources": pa.Table.from_pylist(sources, schema.SOURCES),
        "quotes": pa.Table.from_pylist(quotes, schema.QUOTES),
        "duplicates": pa.Table.from_pylist(duplicates, schema.DUPLICATES),
        "files": pa.Table.from_pylist(files, schema.FILES),
        "minhash_bands": minhash_band_rows(batch.near_index),
        "shingle_sketches": shingle_sketch_rows(batch.near_index),
    }


def touched_table(touched: list[ReadResult]) -> pa.Table:
    return pa.table({
        "path": pa.array([t.ref.path for t in touched], pa.string()),
        "sha256": pa.array([t.sha256 for t in touched], pa.string()),
        "size": pa.array([t.ref.size for t in touched], pa.int64()),
        "mtime_ns": pa.array([t.ref.mtime_ns for t in touched], pa.int64()),
    })


@task(name="commit-batch", cache_policy=NO_CACHE, retries=4, retry_delay_seconds=[1, 2, 4, 8],
      retry_condition_fn=retry_if_transient)
def commit_batch_task(
    con: duckdb.DuckDBPyConnection, rows: dict[str, pa.Table], touched: pa.Table, *, run_id: str, batch: int,
    run_counts: RunCounts | None = None,
) -> int | None:
    # A retry after a COMMIT that went through finds the batch by its stamp and writes nothing twice.
    return commit_batch(con, rows, touched, run_id=run_id, batch=batch, run_counts=run_counts)
