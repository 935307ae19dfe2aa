"""The records of the files one writer claims, for writers that share a lake's PostgreSQL catalog.

Each writer discovers the inbox as a lone writer does (tasks.discover), offers what it found to the
claims table, then reads claimed files batch by batch (tasks.claims): a batch holds one claim's
records, and a claim is done once every record of its files is in a batch. The flow completes
those claims after that batch commits, so a writer that dies leaves uncommitted claims behind,
which go back to the others.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg

from tasks import claims
from tasks.discover import Discovery, FileToIngest, known_files
from tasks.formats.known_records import KnownRecords
from tasks.formats.settings import FormatSettings
from tasks.read import ReadBatch, RecordStream

# Beside other writers, a claim shrinks as the inbox drains, so that writers run out of work at about
# the same time; but it is at least this many files, since every batch pays the same task runs,
# history lookups and turn in the commit section.
SMALLEST_CLAIM = 25


def claim_size(free: int, writers: claims.Writers, most: int) -> int:
    """How many of the `free` files a writer claims, at most `most`: its share of all the work left
    (the free files and those the writers hold), less what it holds already. A writer alone
    claims `most`."""
    share = -(-(free + writers.held_by_others + writers.held_here) // (writers.others + 1)) - writers.held_here
    return min(most, max(SMALLEST_CLAIM, share))


def claim_files(claims_con: psycopg.Connection, holder: claims.Holder, most: int) -> claims.Claim | None:
    """The next claim for `holder`: at most `most` files, its share of the work left beside the
    other writers at work (claim_size); None when none is free."""
    size = claim_size(claims.counts(claims_con).free, claims.writers(claims_con, holder), most)
    return claims.claim_batch(claims_con, holder, size, claims.DEFAULT_LEASE_SECONDS)


class ClaimedRecords:
    """`next_batch(n)` like tasks.read.RecordStream's, over files claimed at most `claim_files` at a time;
    each ReadBatch lists in `claims` the claims whose files it finishes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, shared: claims.WriterSession, root: Path,
                 discovery: Discovery, *, claim_files: int, max_file_bytes: int, formats: FormatSettings):
        self._con = con
        self._shared = shared
        self._root = root
        self._candidates = {candidate.ref: candidate for candidate in discovery.scan.candidates}
        self._known_content = set(discovery.known.contents)
        self._claim_files = claim_files
        self._max_file_bytes = max_file_bytes
        self._formats = formats
        # Claims this process made before the flow started (the CLI's read-ahead) come first.
        self._adopted = claims.held_by(shared.con, shared.holder)
        self._claim: claims.Claim | None = None
        self._stream: RecordStream | None = None
        self._files_before_stream = 0

    def __enter__(self) -> ClaimedRecords:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def next_batch(self, max_records: int) -> ReadBatch:
        """The records of the next claim (at most `max_records` of them; a claim of multi-record
        files may take several batches). One claim per batch, each this writer's share of the work
        left (claim_size), so writers run out of work at about the same time."""
        batch = ReadBatch()
        while not batch.results:
            if self._stream is None and not self._claim_next():
                break
            part = self._stream.next_batch(max_records)
            batch.results += part.results
            batch.touched += part.touched
            batch.containers += part.containers
            batch.files_done = self._files_before_stream + part.files_done
            if len(part.results) < max_records:  # the stream ran dry: the claim's files are all read
                self._files_before_stream = batch.files_done
                self._stream.close()
                self._stream = None
                batch.claims.append(self._claim)
        batch.files_done = max(batch.files_done, self._files_before_stream)
        return batch

    def _claim_next(self) -> bool:
        claim = self._adopted.pop(0) if self._adopted else claim_files(self._shared.con, self._shared.holder,
                                                                       self._claim_files)
        if claim is None:
            return False
        self._shared.leases.hold(claim)
        # What the lake holds of the claimed files now, not when this writer discovered the inbox:
        # a writer that died between its commit and completing its claims left files that are in
        # the lake already (skipped here, and their claim completed with this batch), and another
        # writer may have offered a file this one has not seen (an unchanged file whose mtime moved).
        known = known_files(self._con, [ref.path for ref in claim.files])
        self._known_content |= known.contents
        candidates = [self._candidates.get(ref) or FileToIngest(ref) for ref in claim.files
                      if (ref.path, ref.size, ref.mtime_ns) not in known.stats]
        self._claim = claim
        self._stream = RecordStream(self._root, candidates, self._known_content,
                                    KnownRecords(self._con, [ref.path for ref in claim.files]),
                                    self._max_file_bytes, self._formats)
        return True
