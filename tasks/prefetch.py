"""The first batch's NER, started before the flow: while Prefect's server boots (seconds), the NER
workers would otherwise sit idle with the model loaded.

From the discovery the CLI made anyway (its check that there is something new), this runs the flow's
first steps as plain functions (read and parse, exact dedup against the lake, near dedup within the
batch, read-only) and queues the new stories' bodies for NER. The flow then does all of it again,
under the writer lock, with near dedup against the lake's history too, and takes its NER results
from this job when its first batch's new bodies are among these, in the same order
(tasks.ner.NerPool.prefetch): NER depends on the body alone, so nothing the flow decides can differ.
The history join is left to the flow because it reads every band key of the lake (about a second of
CPU at a million articles), and running it twice would cost more than the NER of the rare story that
turns out to be a near copy of an old one. If the lake changed in between so that the bodies differ
otherwise, the job is simply not used.
"""

from __future__ import annotations

from tasks.dedup import existing_article_ids, split_exact_duplicates
from tasks.discover import Discovery
from tasks.lake import LakeNotFound, open_lake
from tasks.near_dedup import split_near_duplicates
from tasks.ner import NerPool
from tasks.read import read_and_parse


def prefetch_first_batch(settings, discovery: Discovery, ner: NerPool) -> None:
    """Queue in `ner` the NER of the first batch `settings` (flows.ingest.IngestSettings) would
    ingest, as `discovery` found the inbox."""
    batch = discovery.scan.candidates[: settings.batch_size]
    try:
        con = open_lake(settings.lake, read_only=True)
    except LakeNotFound:  # a new lake: nothing to be a duplicate of
        con = None
    try:
        results, _ = read_and_parse(settings.seeds, batch, discovery.known.contents, settings.max_file_bytes)
        in_lake = (lambda ids: existing_article_ids(con, ids)) if con else (lambda ids: set())
        exact = split_exact_duplicates(results, in_lake)
    finally:
        if con:
            con.close()
    deduped = split_near_duplicates(exact, lambda band_keys: {}, settings.near_dedup)
    ner.prefetch([result.article.body for result, _ in deduped.new])
