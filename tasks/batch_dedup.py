"""Deduplicate a batch against the lake and the batch before it, whose commit is still pending.

The flow keeps the NER workers busy across batches: batch k+1 is read, deduplicated and queued for
NER while batch k is still in NER, so batch k is not in the lake yet when batch k+1 is checked.
Its new stories count as history here, exactly as if they were committed: a story in batch k+1
that repeats one of batch k is a duplicate (exact or near) of it, and never reaches NER.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.dedup import Deduplicated, existing_article_ids, split_exact_duplicates
from tasks.near_dedup import NearDedupSettings, ShingleSketch, history_candidates, split_near_duplicates
from tasks.read import ReadResult
from tasks.retry import retry_if_transient


def pending_candidates(band_keys: pa.Table, pending: Deduplicated) -> dict[int, list[ShingleSketch]]:
    """Like tasks.near_dedup.history_candidates, over the pending batch's new stories: item ->
    candidates sharing a band key with it, with the sketches the commit will store, in the batch's
    order."""
    order = {article_id: i for i, (_, article_id) in enumerate(pending.new)}
    index: dict[tuple[int, int], list[str]] = {}
    for article_id, entry in pending.near_index.items():
        for band, key in enumerate(entry.band_keys.tolist()):
            index.setdefault((band, key), []).append(article_id)
    found: dict[int, set[str]] = {}
    columns = (band_keys.column(name).to_pylist() for name in ("item", "band", "band_hash"))
    for item, band, key in zip(*columns):
        if (band, key) in index:
            found.setdefault(item, set()).update(index[(band, key)])
    return {
        item: [ShingleSketch(a, pending.near_index[a].shingle_count, pending.near_index[a].sketch)
               for a in sorted(ids, key=order.__getitem__)]
        for item, ids in found.items()
    }


def dedup_after_pending(
    con: duckdb.DuckDBPyConnection,
    results: list[ReadResult],
    pending: Deduplicated | None,
    settings: NearDedupSettings,
) -> Deduplicated:
    """Exact then near dedup of `results` against the lake and then `pending` (None: nothing
    pending), in that order of precedence: the lake's articles are older."""
    pending_ids = {article_id for _, article_id in pending.new} if pending else set()

    def known_ids(ids: list[str]) -> set[str]:
        return existing_article_ids(con, ids) | (pending_ids & set(ids))

    def history(band_keys: pa.Table) -> dict[int, list[ShingleSketch]]:
        found = history_candidates(con, band_keys)
        if pending is not None:
            for item, candidates in pending_candidates(band_keys, pending).items():
                found.setdefault(item, []).extend(candidates)
        return found

    return split_near_duplicates(split_exact_duplicates(results, known_ids), history, settings)


@task(name="dedup", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def dedup_task(
    con: duckdb.DuckDBPyConnection,
    results: list[ReadResult],
    pending: Deduplicated | None,
    settings: NearDedupSettings,
) -> Deduplicated:
    return dedup_after_pending(con, results, pending, settings)
