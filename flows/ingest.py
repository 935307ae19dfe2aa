"""The ingest flow: inbox -> discover -> read+parse -> exact and near dedup -> enrich -> commit, per batch.

Orchestration only: each step is a task from tasks/, a batch is a few hundred files (never a task
per file), and each batch commits in one DuckLake transaction, so a crash leaves the lake as it was
before that batch and the next run redoes it.
"""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field

from flows.lake_address import LakeAddress
from tasks.batch_dedup import dedup_task
from tasks.claimed_records import ClaimedRecords
from tasks.claims import WriterSession
from tasks.commit import build_batch_rows, commit_batch_task, touched_table
from tasks.dedup import Deduplicated
from tasks.discover import Discovery
from tasks.enrich import enrich_task
from tasks.formats.settings import FormatSettings
from tasks.identity import identity_rows_task
from tasks.inbox_tasks import discover_task, known_records_task, offer_task, read_batch_task
from tasks.lake import LakeLocation, open_lake
from tasks.late_dedup import late_dedup_task
from tasks.near_dedup import NearDedupSettings
from tasks.ner import NerJob, NerPool
from tasks.progress import RunProgress
from tasks.read import DEFAULT_MAX_FILE_BYTES, ReadBatch, RecordStream
from tasks.run_history import INGEST_FLOW, RunSummary, no_other_run_alive
from tasks.run_report import count_mentions, publish_run_artifacts, record_run_end_task, record_run_start_task
from tasks.writer_lock import DEFAULT_TIMEOUT_SECONDS, writer_lock

FLOW_NAME = INGEST_FLOW
# What the batch log line calls the stories another writer committed while they were in NER.
LATE_DUPLICATES = "late duplicates"


class IngestSettings(BaseModel):
    """Everything a run needs to know, passed as the flow's one parameter."""

    seeds: Path = Field(Path("seeds"), description="The inbox folder to ingest from")
    lake: LakeAddress = Field(Path("lake"), description="The DuckLake folder to write to (with a catalog, its data "
                                                       "folder or s3:// URL)")
    catalog: str | None = Field(None, description="PostgreSQL catalog (libpq URL) of a lake that several writers "
                                                  "share: the run claims batches of the inbox from it, and "
                                                  "takes no writer lock")
    ner_processes: int | None = Field(None, ge=1, description="NER worker processes of a run that starts its own "
                                                              "pool (default: one per CPU, at most 2)")
    batch_size: int = Field(400, ge=1, description="Records per batch (one transaction each)")
    max_file_bytes: int = Field(DEFAULT_MAX_FILE_BYTES, ge=1, description="Larger files are rejected unread")
    # 0 for a one-shot run: whoever starts it has finished copying. Scheduled runs and the watcher,
    # which may meet a file mid-write, set it above 0.
    min_file_age_seconds: float = Field(0.0, ge=0, description="Files changed more recently are left for the next run")
    writer_lock_timeout_seconds: float = Field(DEFAULT_TIMEOUT_SECONDS, ge=0, description="How long to wait for another writer of the lake")
    near_dedup: NearDedupSettings = Field(default_factory=NearDedupSettings, description="Near-duplicate thresholds")
    formats: FormatSettings = Field(default_factory=FormatSettings,
                                    description="Record size limit and JSON field mapping of multi-record files")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _BatchInNer:
    """A deduplicated batch whose new stories are in the NER workers, not yet committed."""

    batch_no: int
    read: ReadBatch
    deduped: Deduplicated
    bodies: list[str]
    job: NerJob


@flow(name=FLOW_NAME)
def ingest(settings: IngestSettings = IngestSettings(), ner: NerPool | None = None) -> RunSummary:
    """`ner` is the NER worker pool its owner keeps across runs (the CLI, the watcher); a run given
    none, as a deployment's is, starts its own and closes it when it ends.

    With a PostgreSQL catalog (`settings.catalog`) the run is one of several writers that split the
    inbox: it claims batches of files until none is left (tasks.claims)."""
    logger = get_run_logger()
    with nullcontext(ner) if ner is not None else NerPool(settings.ner_processes) as pool:
        if settings.catalog is None:
            # Held from discovery to the last commit: two runs must not both decide a file is new.
            with writer_lock(settings.lake, settings.writer_lock_timeout_seconds,
                             on_wait=lambda holder: logger.info("waiting for %s to finish writing the lake", holder)):
                return _ingest(settings, pool, None, logger)
        with WriterSession(settings.catalog, str(flow_run.id), name=f"ingest run {flow_run.name}") as shared:
            return _ingest(settings, pool, shared, logger)


def _ingest(settings: IngestSettings, ner: NerPool, shared: WriterSession | None, logger) -> RunSummary:
    summary = RunSummary(run_id=str(flow_run.id), started_at=_utcnow())
    mentions: Counter = Counter()  # (name, label) -> mentions in the new articles, for the artifact
    demoted: dict[str, str] = {}  # stories found in the lake at commit time -> the article they repeat
    # With a shared catalog every write happens in the commit section, so no two writers' commits
    # conflict and no story lands twice; a lone writer holds the writer lock already.
    commit_section = shared.commit_section if shared is not None else nullcontext
    con = open_lake(LakeLocation(settings.lake, settings.catalog))
    in_ner: _BatchInNer | None = None
    try:
        with commit_section():
            # quote(): a task argument that is a collection is otherwise walked by Prefect, element
            # by element, looking for futures (of which there are none here): a visible share of a
            # run's CPU.
            record_run_start_task(con, quote(summary), FLOW_NAME,
                                  alive=shared.alive_runs if shared is not None else no_other_run_alive)
        discovery = discover_task(con, settings.seeds, settings.min_file_age_seconds)
        scan = discovery.scan
        summary.files_seen, summary.files_unchanged = scan.seen, scan.unchanged
        logger.info("%d files in %s, %d new or changed", scan.seen, settings.seeds, len(scan.candidates))
        if scan.settling:
            logger.info("%d files still being written, left for the next run", scan.settling)
        candidates = scan.candidates
        # Writers sharing the inbox each read only what they claim: no one run's share is known.
        progress = RunProgress(len(candidates), publish=shared is None and len(candidates) > settings.batch_size)

        def finish(batch: _BatchInNer) -> None:
            enrichments = enrich_task(quote(batch.bodies), batch.job)
            deduped = batch.deduped
            with commit_section():
                if shared is not None:
                    shared.leases.confirm()
                    deduped, enrichments = late_dedup_task(con, quote(deduped), quote(enrichments),
                                                           settings.near_dedup, quote(demoted))
                rows = build_batch_rows(deduped, enrichments, run_id=summary.run_id, now=_utcnow(),
                                        containers=batch.read.containers)
                rows["entity_ids"] = identity_rows_task(con, quote(rows), run_id=summary.run_id, now=_utcnow())
                snapshot_id = commit_batch_task(con, quote(rows), touched_table(batch.read.touched),
                                                run_id=summary.run_id, batch=batch.batch_no,
                                                run_counts=summary.counts_with(deduped))
                if shared is not None:
                    shared.complete(batch.read.claims)
            summary.add_batch(deduped, snapshot_id)
            count_mentions(mentions, enrichments)
            progress.advance_to(batch.read.files_done)
            late = len(deduped.duplicates) - len(batch.deduped.duplicates)
            logger.info("batch %d: %d new, %d duplicates%s, %d rejected", batch.batch_no, len(deduped.new),
                        len(deduped.duplicates), f" ({late} found at commit: {LATE_DUPLICATES})" if late else "",
                        len(deduped.rejected))

        # Batch k+1 is read, deduplicated (against the lake and batch k) and queued for NER while
        # batch k is still in NER: the workers go from one batch to the next without waiting for
        # a commit. Batch k commits before batch k+2 is deduplicated.
        # A batch is `batch_size` records: a multi-record file (JSONL, feed, WARC) spreads over batches.
        with _record_source(con, settings, discovery, shared) as stream:
            for batch_no in count():
                read = read_batch_task(quote(stream), settings.batch_size)
                if read.is_empty:
                    break
                deduped = dedup_task(con, quote(read.results), quote(in_ner.deduped if in_ner else None),
                                     settings.near_dedup)
                bodies = [result.article.body for result, _ in deduped.new]
                previous, in_ner = in_ner, _BatchInNer(batch_no, read, deduped, bodies, ner.submit(bodies))
                if previous is not None:
                    finish(previous)
        if in_ner is not None:
            finish(in_ner)
        summary.status = "completed"
    except BaseException:
        summary.status = "failed"
        if in_ner is not None:  # its chunks still queued are the failed run's: dropped, not served later
            in_ner.job.cancel()
        raise
    finally:
        summary.finished_at = _utcnow()
        try:
            with commit_section():
                record_run_end_task(con, quote(summary))
        finally:
            con.close()
    publish_run_artifacts(summary, mentions)
    logger.info("run %s: %d new articles, %d duplicates, %d rejected in %.1fs", summary.run_id,
                summary.articles_new, summary.duplicates, summary.rejected, summary.seconds)
    return summary


def _record_source(con: duckdb.DuckDBPyConnection, settings: IngestSettings, discovery: Discovery,
                   shared: WriterSession | None) -> RecordStream | ClaimedRecords:
    """Where the run's records come from: all of the discovered files for a lone writer; for one
    of several writers, the files it claims, after offering everything it discovered."""
    candidates = discovery.scan.candidates
    if shared is None:
        known_records = known_records_task(con, quote([candidate.ref.path for candidate in candidates]))
        return RecordStream(settings.seeds, candidates, discovery.known.contents, known_records,
                            settings.max_file_bytes, settings.formats)
    offer_task(shared.con, quote([candidate.ref for candidate in candidates]))
    return ClaimedRecords(con, shared, settings.seeds, discovery, claim_files=settings.batch_size,
                          max_file_bytes=settings.max_file_bytes, formats=settings.formats)
