"""What near dedup costs: one batch of new articles against a large history, beside NER's cost.

Builds a temp lake holding `--history` synthetic articles (sentences of real BBC stories of one
category recombined and partly reworded, so each is distinct: bench/dedup_copies.synthetic_story)
with their `minhash_bands` rows, committed in batches of `--commit-size` as the flow would. Then times near dedup (signatures, the candidate join against the
lake, verification) of `--new` articles (half of them copies of history articles, half fresh), on the
lake as committed and again after compacting it as the daily maintenance does, and NER
(tasks.enrich.enrich_bodies) on the same bodies: the baseline the dedup cost is compared with.

    .venv/bin/python bench/dedup_cost.py [--corpus ../shared/corpora/bbc] [--history 100000] [--new 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sql  # noqa: E402
from bench.dedup_copies import COPY_KINDS, distinct_stories, load_stories, synthetic_story  # noqa: E402
from tasks import schema  # noqa: E402
from tasks.dedup import Deduplicated, article_id_for  # noqa: E402
from tasks.lake import commit_batch, open_lake  # noqa: E402
from tasks.near_dedup import (  # noqa: E402
    NearDedupSettings,
    history_candidates,
    minhash_band_rows,
    shingle_bodies,
    shingle_sketch_rows,
    split_near_duplicates,
)
from tasks.parse import parse_document  # noqa: E402
from tasks.read import ReadResult  # noqa: E402
from tasks.records import FileRef  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_SHARE_OF_NER = 0.10


def build_history(lake: Path, bodies: list[str], commit_size: int, settings: NearDedupSettings) -> None:
    con = open_lake(lake)
    now = datetime.now(UTC)
    try:
        for batch_no, start in enumerate(range(0, len(bodies), commit_size)):
            chunk = bodies[start : start + commit_size]
            ids = [article_id_for(body) for body in chunk]
            shingled = shingle_bodies(chunk, settings.min_words)
            index = {aid: s.index_entry() for aid, s in zip(ids, shingled) if s.band_keys is not None}
            articles = pa.Table.from_pylist(
                [{"article_id": aid, "body": body, "format": "plain", "ingested_at": now} for aid, body in zip(ids, chunk)],
                schema.ARTICLES,
            )
            commit_batch(con, {"articles": articles, "minhash_bands": minhash_band_rows(index),
                               "shingle_sketches": shingle_sketch_rows(index)},
                         run_id="bench-history", batch=batch_no)
    finally:
        con.close()


def measure(lake: Path, batch: Deduplicated, settings: NearDedupSettings, copies: int, history: int) -> float:
    """Time near dedup of `batch` against the lake; print its parts; return the total seconds."""
    bodies = [result.article.body for result, _ in batch.new]
    con = open_lake(lake, read_only=True)
    try:
        files = dict(con.execute(sql.load("bench/data_files_per_table")).fetchall())
        history_candidates(con, pa.table({"item": [0], "band": pa.array([0], pa.int16()), "band_hash": [0]}))  # warm
        lookup_seconds, candidate_pairs = 0.0, 0

        def timed_lookup(keys: pa.Table) -> dict:
            nonlocal lookup_seconds, candidate_pairs
            t0 = time.perf_counter()
            found = history_candidates(con, keys)
            lookup_seconds += time.perf_counter() - t0
            candidate_pairs += sum(map(len, found.values()))
            return found

        t0 = time.perf_counter()
        shingle_bodies(bodies, settings.min_words)
        signature_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = split_near_duplicates(batch, timed_lookup, settings)
        dedup_seconds = time.perf_counter() - t0
    finally:
        con.close()
    near = sum(mark.method == "near" for mark in result.duplicates)
    print(f"near dedup of {len(bodies)} new vs {history} history "
          f"({files.get('minhash_bands')} minhash_bands and {files.get('shingle_sketches')} shingle_sketches files): "
          f"{dedup_seconds:.2f}s (signatures {signature_seconds:.2f}s, candidate join {lookup_seconds:.2f}s, "
          f"verification {dedup_seconds - signature_seconds - lookup_seconds:.2f}s); "
          f"{candidate_pairs} candidate pairs from history, {near} near duplicates of {copies} copies")
    return dedup_seconds


def new_batch(texts: list[str]) -> Deduplicated:
    new = []
    for n, text in enumerate(texts):
        article = parse_document(text)
        new.append((ReadResult(FileRef(f"new/{n:05d}.txt", len(text), 0), f"sha-{n}", article=article),
                    article_id_for(article.body)))
    return Deduplicated(new=new, duplicates=[], rejected=[])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpora/bbc")
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--commit-size", type=int, default=400, help="history articles per lake commit")
    parser.add_argument("--seed", type=int, default=20050203)
    parser.add_argument("--lake", type=Path, help="keep the history lake here (reused when it exists)")
    parser.add_argument("--no-ner", action="store_true", help="time dedup only (NER takes minutes)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    settings = NearDedupSettings()
    pool = distinct_stories(load_stories(args.corpus))
    history = [synthetic_story(pool, rng, f"h{n}") for n in range(args.history)]
    kinds = list(COPY_KINDS.values())
    copies = [kinds[n % len(kinds)](story, rng) for n, story in enumerate(rng.sample(history, args.new // 2))]
    fresh = [synthetic_story(pool, rng, f"n{n}").text() for n in range(args.new - len(copies))]
    batch = new_batch(copies + fresh)
    bodies = [result.article.body for result, _ in batch.new]

    with tempfile.TemporaryDirectory(prefix="newslake-dedup-cost-") as tmp:
        lake = args.lake or Path(tmp) / "lake"
        if not lake.exists():
            started = time.perf_counter()
            build_history(lake, [parse_document(s.text()).body for s in history], args.commit_size, settings)
            print(f"history: {args.history} articles in {-(-args.history // args.commit_size)} commits, "
                  f"built in {time.perf_counter() - started:.0f}s")
        # As committed (one file per batch and table), then as the daily maintenance leaves it.
        dedup_seconds = [measure(lake, batch, settings, len(copies), args.history)]
        con = open_lake(lake)
        try:
            con.execute(sql.load("maintenance/merge_adjacent_files"))
        finally:
            con.close()
        dedup_seconds.append(measure(lake, batch, settings, len(copies), args.history))

    if args.no_ner:
        return
    from tasks.enrich import enrich_bodies

    enrich_bodies(bodies[:2])  # load the model outside the timing
    t0 = time.perf_counter()
    enrich_bodies(bodies)
    ner_seconds = time.perf_counter() - t0
    print(f"NER (enrich_bodies) of the same {len(bodies)} bodies: {ner_seconds:.2f}s")
    for label, seconds in zip(("as committed", "compacted"), dedup_seconds):
        print(f"dedup cost, {label}: {seconds:.2f}s (target < {TARGET_SECONDS:.0f}s) = {seconds / ner_seconds:.1%} "
              f"of NER time (target < {TARGET_SHARE_OF_NER:.0%})")


if __name__ == "__main__":
    main()
