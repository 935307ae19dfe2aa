"""Near-duplicate detection: re-edited, re-wrapped, trimmed and syndicated copies of a story.

Each new story gets MinHash signatures (datasketch, xxhash) over the 3-word shingles of its
normalized body: one of the whole body, and one of its lead (first words), because desks trim
stories from the bottom and a trimmed copy shares the lead whole but only part of the body. The
signatures are cut into LSH bands; the band keys of every canonical article live in the lake's
`minhash_bands` table (committed with the article), so a batch finds its candidates with one SQL
join against all history, plus a lookup among the batch's own earlier stories.

A candidate is a duplicate only after verification on the exact shingle sets: Jaccard at least
`jaccard` (copies edited throughout) or containment (overlap over the smaller set) at least
`containment` (copies cut down or wrapped in another outlet's header and footer). The canonical
is the first-ingested article (history first, then path order within the batch). Texts shorter
than `min_words` are deduplicated exactly only: a few words say too little to call two texts one
story. Runs before enrichment, so a near duplicate never pays for NER.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import xxhash
from datasketch import MinHash
from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

import sql
from tasks import schema
from tasks.dedup import Deduplicated, DuplicateMark, normalize_body
from tasks.retry import retry_if_transient

# The index layout: every band key in the lake was made with these, so changing one means
# rebuilding `minhash_bands`. Tuned on the BBC corpus (bench/dedup_eval.py): with 3-word shingles,
# copy-edits with 5 % of words changed keep Jaccard >= 0.6, while the closest pair of different
# stories in the corpus (two on one charity single, sharing a long passage) measures Jaccard 0.44
# and containment 0.67 (2-word shingles: 0.49 / 0.74; 4-word shingles lose copy-edits). 32 bands of
# 4 rows put the LSH threshold near 0.42: a pair at Jaccard 0.6 is a candidate with probability
# 0.99, one at 0.2 with 0.05; trimmed copies, whose body Jaccard can be far lower, are found by the
# lead's bands.
SHINGLE_WORDS = 3
NUM_PERM = 128
BANDS = 32
ROWS_PER_BAND = NUM_PERM // BANDS
LEAD_WORDS = 60  # the lead signature covers the first 60 words; its bands follow the body's
MINHASH_SEED = 1

_WORD = re.compile(r"\w+")
# Combines a shingle's word hashes as a polynomial (fixed: it is part of the index layout).
_SHINGLE_MULTIPLIER = np.uint32(0x9E3779B1)


class NearDedupSettings(BaseModel):
    """Verification thresholds for near duplicates (see README, "Deduplication")."""

    min_words: int = Field(50, ge=SHINGLE_WORDS, description="Shorter bodies are deduplicated exactly only")
    jaccard: float = Field(0.5, gt=0, le=1, description="Shingle-set Jaccard at or above which two bodies are one story")
    containment: float = Field(
        0.8, gt=0, le=1,
        description="Share of the smaller body's shingles found in the other at or above which two bodies are one story",
    )


@dataclass(frozen=True)
class Shingled:
    """A body as near dedup sees it: its shingle set and its LSH band keys (None when too short)."""

    shingles: frozenset[int]
    band_keys: np.ndarray | None  # int64[2 * BANDS]: body bands, then lead bands


def words_of(body: str) -> list[str]:
    return _WORD.findall(normalize_body(body))


def shingle_hashes(words: list[str]) -> np.ndarray:
    """32-bit hashes of the body's word 3-grams, in text order (one shingle if fewer words).

    Words are hashed once with xxh32 and each shingle's hash is combined from its words' hashes with
    an odd multiplier (order matters, wraps mod 2^32): building and hashing every shingle's string
    costs three times as much, and MinHash mixes the values again (datasketch's affine32 scheme).
    """
    hashes = np.fromiter((xxhash.xxh32_intdigest(w.encode()) for w in words), np.uint32, len(words))
    if len(hashes) < SHINGLE_WORDS:
        return np.array([xxhash.xxh32_intdigest(" ".join(words).encode())], np.uint32)
    last = len(hashes) - SHINGLE_WORDS + 1
    combined = np.zeros(last, np.uint32)
    for position in range(SHINGLE_WORDS):
        combined = combined * _SHINGLE_MULTIPLIER + hashes[position : position + last]
    return combined


def shingle_set(body: str) -> frozenset[int]:
    return frozenset(shingle_hashes(words_of(body)).tolist())


def _identity(value: int) -> int:
    return value


def _band_keys(signatures: np.ndarray) -> np.ndarray:
    """int64 key of each band of each signature: (n, NUM_PERM) uint32 -> (n, BANDS)."""
    bands = np.ascontiguousarray(signatures, dtype="<u4").reshape(len(signatures), BANDS, ROWS_PER_BAND)
    keys = np.fromiter((xxhash.xxh64_intdigest(band.tobytes()) for band in bands.reshape(-1, ROWS_PER_BAND)),
                       dtype=np.uint64, count=len(signatures) * BANDS)
    return keys.view(np.int64).reshape(len(signatures), BANDS)


def _signatures(shingle_sets: list[list[int]]) -> np.ndarray:
    # The values are shingle hashes already (see shingle_hashes), so MinHash takes them as they are.
    minhashes = MinHash.bulk(shingle_sets, num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=_identity)
    return np.stack([m.hashvalues for m in minhashes]) if minhashes else np.empty((0, NUM_PERM), np.uint32)


def shingle_bodies(bodies: list[str], min_words: int) -> list[Shingled]:
    """Shingles of every body, and band keys for those long enough to be near-deduplicated."""
    words = [words_of(body) for body in bodies]
    hashes = [shingle_hashes(w) for w in words]
    indexed = [i for i, w in enumerate(words) if len(w) >= min_words]
    body_sigs = _signatures([hashes[i].tolist() for i in indexed])
    lead_sigs = _signatures([hashes[i][: LEAD_WORDS - SHINGLE_WORDS + 1].tolist() for i in indexed])
    keys = np.hstack([_band_keys(body_sigs), _band_keys(lead_sigs)])
    band_keys: list[np.ndarray | None] = [None] * len(bodies)
    for row, i in enumerate(indexed):
        band_keys[i] = keys[row]
    return [Shingled(frozenset(h.tolist()), k) for h, k in zip(hashes, band_keys)]


def similarity(a: frozenset[int], b: frozenset[int]) -> tuple[float, float]:
    """(Jaccard, containment) of two shingle sets; containment is overlap over the smaller set."""
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared), shared / min(len(a), len(b))


def _band_columns(n: int, keys: list[np.ndarray]) -> tuple[pa.Array, pa.Array]:
    per_item = 2 * BANDS
    bands = pa.array(np.tile(np.arange(per_item, dtype=np.int16), n), pa.int16())
    return bands, pa.array(np.concatenate(keys) if keys else np.empty(0, np.int64), pa.int64())


def band_key_table(items: list[tuple[int, np.ndarray]]) -> pa.Table:
    """(item, band, band_hash): the band keys of a batch's items, for the join with history."""
    bands, hashes = _band_columns(len(items), [k for _, k in items])
    item = np.repeat(np.array([i for i, _ in items], np.int64), 2 * BANDS)
    return pa.table({"item": pa.array(item, pa.int64()), "band": bands, "band_hash": hashes})


def minhash_band_rows(band_keys: dict[str, np.ndarray]) -> pa.Table:
    """`minhash_bands` rows for the band keys of the batch's new stories."""
    bands, hashes = _band_columns(len(band_keys), list(band_keys.values()))
    article_ids = pa.array(np.repeat(np.array(list(band_keys), dtype=object), 2 * BANDS), pa.string())
    return pa.table([article_ids, bands, hashes], schema=schema.MINHASH_BANDS)


# Candidates from history: item index -> [(article_id, body)], first-ingested first.
HistoryLookup = Callable[[pa.Table], dict[int, list[tuple[str, str]]]]


def split_near_duplicates(
    batch: Deduplicated, history: HistoryLookup, settings: NearDedupSettings = NearDedupSettings()
) -> Deduplicated:
    """Move the batch's new stories that repeat a canonical article (in history or earlier in the
    batch) to `duplicates` with method "near"; the stories kept as new carry their band keys."""
    shingled = shingle_bodies([result.article.body for result, _ in batch.new], settings.min_words)
    indexed = [(i, s.band_keys) for i, s in enumerate(shingled) if s.band_keys is not None]
    from_history = history(band_key_table(indexed)) if indexed else {}

    out = Deduplicated(new=[], duplicates=list(batch.duplicates), rejected=list(batch.rejected))
    history_shingles: dict[str, frozenset[int]] = {}
    for rows in from_history.values():
        for article_id, body in rows:
            if article_id not in history_shingles:
                history_shingles[article_id] = shingle_set(body)
    batch_canonicals: dict[tuple[int, int], list[int]] = {}  # (band, key) -> batch items kept as new
    for i, ((result, article_id), item) in enumerate(zip(batch.new, shingled)):
        if item.band_keys is None:
            out.new.append((result, article_id))
            continue
        candidates = [(cid, history_shingles[cid]) for cid, _ in from_history.get(i, [])]
        earlier = sorted({j for band, key in enumerate(item.band_keys.tolist())
                          for j in batch_canonicals.get((band, key), ())})
        candidates += [(batch.new[j][1], shingled[j].shingles) for j in earlier]
        match = _best_match(item.shingles, candidates, settings)
        if match is not None:
            out.duplicates.append(DuplicateMark(result, match[0], "near", match[1]))
            continue
        out.new.append((result, article_id))
        out.band_keys[article_id] = item.band_keys
        for band, key in enumerate(item.band_keys.tolist()):
            batch_canonicals.setdefault((band, key), []).append(i)
    return out


def _best_match(
    shingles: frozenset[int], candidates: list[tuple[str, frozenset[int]]], settings: NearDedupSettings
) -> tuple[str, float] | None:
    """The verified candidate with the highest containment (earliest on ties), or None."""
    best: tuple[str, float] | None = None
    for article_id, other in candidates:
        jaccard, containment = similarity(shingles, other)
        if (jaccard >= settings.jaccard or containment >= settings.containment) and (
            best is None or containment > best[1]
        ):
            best = (article_id, containment)
    return best


def history_candidates(con: duckdb.DuckDBPyConnection, band_keys: pa.Table) -> dict[int, list[tuple[str, str]]]:
    """Articles in the lake sharing a band key with an item of the batch, with their bodies."""
    con.register("batch_band_keys", band_keys)
    try:
        rows = con.execute(sql.load("near_candidates")).fetchall()
    finally:
        con.unregister("batch_band_keys")
    found: dict[int, list[tuple[str, str]]] = {}
    for item, article_id, body in rows:
        found.setdefault(item, []).append((article_id, body))
    return found


@task(name="near-dedup", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 2, 4],
      retry_condition_fn=retry_if_transient)
def near_dedup_task(
    con: duckdb.DuckDBPyConnection, batch: Deduplicated, settings: NearDedupSettings
) -> Deduplicated:
    return split_near_duplicates(batch, lambda keys: history_candidates(con, keys), settings)
