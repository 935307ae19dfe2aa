"""Late dedup: writers sharing a catalog check a batch's new stories once more, just before committing.

Each writer deduplicates a batch against the lake before NER, as a lone writer does. Another writer
may commit the same story (an exact or near copy in a file it claimed) while this batch is in NER.
DuckLake has no unique constraints, so the check is repeated inside the commit section
(tasks.claims.commit_section), where no other writer commits: a story found in the lake by then
becomes a duplicate of it, having paid for NER for nothing.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.batch_dedup import dedup_after_pending
from tasks.dedup import Deduplicated
from tasks.near_dedup import NearDedupSettings
from tasks.records import Enrichment
from tasks.retry import retry_if_transient


def recheck_new_stories(
    con: duckdb.DuckDBPyConnection, batch: Deduplicated, enrichments: list[Enrichment],
    settings: NearDedupSettings, demoted: dict[str, str],
) -> tuple[Deduplicated, list[Enrichment]]:
    """`batch` with its new stories that the lake now holds moved to its duplicates, and
    `enrichments` (paired with `batch.new`) without theirs.

    `demoted` maps the ids of stories an earlier batch of this run expected to commit, and found in
    the lake, to the article they repeat. This batch was deduplicated against that earlier one
    while it was pending (tasks.batch_dedup), so its duplicates may point at such an id; they are
    pointed at the lake's article instead, as are those that point at a story of this batch that
    this call demotes. This call adds the stories it demotes to `demoted`.
    """
    again = dedup_after_pending(con, [result for result, _ in batch.new], None, settings)
    id_of_file = {id(result): article_id for result, article_id in batch.new}
    for mark in again.duplicates:
        demoted[id_of_file[id(mark.file)]] = mark.article_id
    # After this batch's own demotions: its early dedup may have marked a copy of one of them.
    duplicates = [replace(mark, article_id=demoted.get(mark.article_id, mark.article_id))
                  for mark in batch.duplicates]
    still_new = {article_id for _, article_id in again.new}
    kept = [i for i, (_, article_id) in enumerate(batch.new) if article_id in still_new]
    rechecked = Deduplicated(
        new=[batch.new[i] for i in kept],
        duplicates=duplicates + again.duplicates,
        rejected=batch.rejected,
        near_index={article_id: entry for article_id, entry in batch.near_index.items() if article_id in still_new},
    )
    return rechecked, [enrichments[i] for i in kept]


@task(name="late-dedup", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def late_dedup_task(
    con: duckdb.DuckDBPyConnection, batch: Deduplicated, enrichments: list[Enrichment],
    settings: NearDedupSettings, demoted: dict[str, str],
) -> tuple[Deduplicated, list[Enrichment]]:
    return recheck_new_stories(con, batch, enrichments, settings, demoted)
