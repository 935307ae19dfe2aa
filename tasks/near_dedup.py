"""Near-duplicate detection: re-edited, re-wrapped, trimmed and syndicated copies of a story.

Each new story gets MinHash signatures (datasketch's scheme, computed with numpy and xxhash) over
the 3-word shingles of its normalized body: one of the whole body, and one of its lead (first
words), because desks trim stories from the bottom and a trimmed copy shares the lead whole but only
part of the body. The signatures are cut into LSH bands; the band keys of every canonical article
live in the lake's `minhash_bands` table, and its shingle count and bottom-k sketch (its
`SKETCH_SIZE` smallest shingle hashes) in `shingle_sketches`, both committed with the article. A
batch finds its candidates with one SQL join against all history, plus a lookup among the batch's
own earlier stories; history bodies are never read.

A candidate is a duplicate only after verification of the new story's whole shingle set against the
candidate's sketch: the sketch is a uniform sample of the candidate's shingles (the hashes are
random), so the share of it found in the new story estimates the share of the whole, and the
shingle count turns that into the overlap (exact when the candidate has at most `SKETCH_SIZE`
shingles, and for candidates of the same batch, whose whole sets are at hand). Duplicates are those
with Jaccard at least `jaccard` (copies edited throughout) or containment (overlap over the smaller
set) at least `containment` (copies cut down or wrapped in another outlet's header and footer). The
canonical is the first-ingested article (history first, then path order within the batch). Texts
shorter than `min_words` are deduplicated exactly only: a few words say too little to call two texts
one story. Runs before enrichment, so a near duplicate never pays for NER.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import xxhash
from pydantic import BaseModel, Field

import sql
from tasks import schema
from tasks.dedup import Deduplicated, DuplicateMark
from tasks.lake import lake_errors

SHINGLE_WORDS = 3
NUM_PERM = 128
BANDS = 32
ROWS_PER_BAND = NUM_PERM // BANDS
LEAD_WORDS = 60  # the lead signature covers the first 60 words; its bands follow the body's
MINHASH_SEED = 1
# Shingle hashes kept per article for verification (1 KiB): measured on BBC copies and same-topic
# pairs (bench/dedup_eval.py), the estimate's worst error on the decision score max(J/jaccard,
# C/containment) is 0.13 with 256 (0.21 with 128, 0.38 for a Jaccard estimated from 128-value MinHash
# signatures), against an exact-set margin of 0.2 between the hardest negative and the threshold.
SKETCH_SIZE = 256

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
class ShingleSketch:
    """A story a new one may repeat, as verification sees it: its shingle count and its smallest
    shingle hashes, ascending (its sketch; or its whole set, which makes verification exact)."""

    article_id: str
    shingle_count: int
    smallest: np.ndarray  # uint32


@dataclass(frozen=True)
class NearIndexEntry:
    """What the lake keeps of a canonical story for near dedup: `minhash_bands` and `shingle_sketches`."""

    band_keys: np.ndarray  # int64[2 * BANDS]: body bands, then lead bands
    shingle_count: int
    sketch: np.ndarray  # uint32: the SKETCH_SIZE smallest shingle hashes, ascending


@dataclass(frozen=True)
class Shingled:
    """A body as near dedup sees it: its shingle set and its LSH band keys (None when too short)."""

    shingles: np.ndarray  # uint32, unique, ascending
    band_keys: np.ndarray | None

    def as_sketch(self, article_id: str) -> ShingleSketch:
        return ShingleSketch(article_id, len(self.shingles), self.shingles)

    def index_entry(self) -> NearIndexEntry:
        return NearIndexEntry(self.band_keys, len(self.shingles), self.shingles[:SKETCH_SIZE])


def words_of(body: str) -> list[str]:
    """The words of tasks.dedup.normalize_body(body): its quote, dash and whitespace folding never
    changes a run of word characters, so NFKC and casefold are all the words need."""
    return _WORD.findall(unicodedata.normalize("NFKC", body).casefold())


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


def shingle_set(body: str) -> np.ndarray:
    """The body's distinct shingle hashes, ascending."""
    return np.unique(shingle_hashes(words_of(body)))


def _band_keys(signatures: np.ndarray) -> np.ndarray:
    """int64 key of each band of each signature: (n, NUM_PERM) uint32 -> (n, BANDS)."""
    bands = np.ascontiguousarray(signatures, dtype="<u4").reshape(len(signatures), BANDS, ROWS_PER_BAND)
    keys = np.fromiter((xxhash.xxh64_intdigest(band.tobytes()) for band in bands.reshape(-1, ROWS_PER_BAND)),
                       dtype=np.uint64, count=len(signatures) * BANDS)
    return keys.view(np.int64).reshape(len(signatures), BANDS)


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch 2's affine32 permutations, value -> a * fmix32(value) + b wrapping mod 2^32 (a odd),
    drawn as its MinHash draws them. Made here, because importing datasketch imports SciPy (0.4 s of
    every run); the tests check the values against datasketch's."""
    draw = np.random.RandomState(seed)
    a = draw.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERMUTATION_A, _PERMUTATION_B = _permutations(NUM_PERM, MINHASH_SEED)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, which datasketch applies to every value before permuting."""
    values = (values ^ (values >> np.uint32(16))) * np.uint32(0x85EBCA6B)
    values = (values ^ (values >> np.uint32(13))) * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def _signatures(shingle_sets: list[np.ndarray]) -> np.ndarray:
    """MinHash signatures (n, NUM_PERM) uint32 of non-empty sets of shingle hashes, the values
    datasketch's MinHash.bulk(..., hashfunc=identity) gives, a third of its time: one pass per
    permutation over every set at once, instead of one pass per set."""
    if not shingle_sets:
        return np.empty((0, NUM_PERM), np.uint32)
    mixed = _fmix32(np.concatenate(shingle_sets))
    starts = np.cumsum([0] + [len(s) for s in shingle_sets[:-1]])
    signatures = np.empty((len(shingle_sets), NUM_PERM), np.uint32)
    for k in range(NUM_PERM):
        signatures[:, k] = np.minimum.reduceat(mixed * _PERMUTATION_A[k] + _PERMUTATION_B[k], starts)
    return signatures


def shingle_bodies(bodies: list[str], min_words: int) -> list[Shingled]:
    """Shingles of every body, and band keys for those long enough to be near-deduplicated."""
    words = [words_of(body) for body in bodies]
    hashes = [shingle_hashes(w) for w in words]
    indexed = [i for i, w in enumerate(words) if len(w) >= min_words]
    body_sigs = _signatures([hashes[i] for i in indexed])
    lead_sigs = _signatures([hashes[i][: LEAD_WORDS - SHINGLE_WORDS + 1] for i in indexed])
    keys = np.hstack([_band_keys(body_sigs), _band_keys(lead_sigs)])
    band_keys: list[np.ndarray | None] = [None] * len(bodies)
    for row, i in enumerate(indexed):
        band_keys[i] = keys[row]
    return [Shingled(np.unique(h), k) for h, k in zip(hashes, band_keys)]


def similarity(shingles: np.ndarray, other: ShingleSketch) -> tuple[float, float]:
    """(Jaccard, containment) of a shingle set and a candidate; containment is overlap over the
    smaller set. The candidate's smallest hashes are a uniform sample of its set, so the share of them
    in `shingles` estimates the share of the whole (exact when the sample is the whole set)."""
    found = np.intersect1d(shingles, other.smallest, assume_unique=True).size
    shared = min(found * other.shingle_count / len(other.smallest), len(shingles), other.shingle_count)
    return shared / (len(shingles) + other.shingle_count - shared), shared / min(len(shingles), other.shingle_count)


def _band_columns(n: int, keys: list[np.ndarray]) -> tuple[pa.Array, pa.Array]:
    per_item = 2 * BANDS
    bands = pa.array(np.tile(np.arange(per_item, dtype=np.int16), n), pa.int16())
    return bands, pa.array(np.concatenate(keys) if keys else np.empty(0, np.int64), pa.int64())


def band_key_table(items: list[tuple[int, np.ndarray]]) -> pa.Table:
    """(item, band, band_hash): the band keys of a batch's items, for the join with history."""
    bands, hashes = _band_columns(len(items), [k for _, k in items])
    item = np.repeat(np.array([i for i, _ in items], np.int64), 2 * BANDS)
    return pa.table({"item": pa.array(item, pa.int64()), "band": bands, "band_hash": hashes})


def minhash_band_rows(index: dict[str, NearIndexEntry]) -> pa.Table:
    """`minhash_bands` rows for the batch's new stories."""
    bands, hashes = _band_columns(len(index), [entry.band_keys for entry in index.values()])
    article_ids = pa.array(np.repeat(np.array(list(index), dtype=object), 2 * BANDS), pa.string())
    return pa.table([article_ids, bands, hashes], schema=schema.MINHASH_BANDS)


def shingle_sketch_rows(index: dict[str, NearIndexEntry]) -> pa.Table:
    """`shingle_sketches` rows for the batch's new stories: the sketch as little-endian uint32."""
    return pa.table([
        pa.array(list(index), pa.string()),
        pa.array([entry.shingle_count for entry in index.values()], pa.int32()),
        pa.array([entry.sketch.astype("<u4").tobytes() for entry in index.values()], pa.binary()),
    ], schema=schema.SHINGLE_SKETCHES)


# Candidates from history: item index -> candidates, first-ingested first.
HistoryLookup = Callable[[pa.Table], dict[int, list[ShingleSketch]]]


def split_near_duplicates(
    batch: Deduplicated, history: HistoryLookup, settings: NearDedupSettings = NearDedupSettings()
) -> Deduplicated:
    """Move the batch's new stories that repeat a canonical article (in history or earlier in the
    batch) to `duplicates` with method "near"; the stories kept as new carry their index entries."""
    shingled = shingle_bodies([result.article.body for result, _ in batch.new], settings.min_words)
    indexed = [(i, s.band_keys) for i, s in enumerate(shingled) if s.band_keys is not None]
    from_history = history(band_key_table(indexed)) if indexed else {}

    out = Deduplicated(new=[], duplicates=[], rejected=list(batch.rejected))
    batch_canonicals: dict[tuple[int, int], list[int]] = {}  # (band, key) -> batch items kept as new
    demoted: dict[str, tuple[str, float]] = {}  # a story found to repeat an article -> (article, similarity)
    for i, ((result, article_id), item) in enumerate(zip(batch.new, shingled)):
        if item.band_keys is None:
            out.new.append((result, article_id))
            continue
        earlier = sorted({j for band, key in enumerate(item.band_keys.tolist())
                          for j in batch_canonicals.get((band, key), ())})
        candidates = from_history.get(i, []) + [shingled[j].as_sketch(batch.new[j][1]) for j in earlier]
        match = _best_match(item.shingles, candidates, settings)
        if match is not None:
            out.duplicates.append(DuplicateMark(result, match[0], "near", match[1]))
            demoted[article_id] = match
            continue
        out.new.append((result, article_id))
        out.near_index[article_id] = item.index_entry()
        for band, key in enumerate(item.band_keys.tolist()):
            batch_canonicals.setdefault((band, key), []).append(i)
    # An exact copy of a story that turned out to repeat an article is a near copy of that article.
    earlier_marks = []
    for mark in batch.duplicates:
        if mark.article_id in demoted:
            canonical, similarity = demoted[mark.article_id]
            mark = DuplicateMark(mark.file, canonical, "near", similarity)
        earlier_marks.append(mark)
    out.duplicates[:0] = earlier_marks
    return out


def _best_match(
    shingles: np.ndarray, candidates: list[ShingleSketch], settings: NearDedupSettings
) -> tuple[str, float] | None:
    """The verified candidate with the highest containment (earliest on ties), or None."""
    best: tuple[str, float] | None = None
    for candidate in candidates:
        jaccard, containment = similarity(shingles, candidate)
        if (jaccard >= settings.jaccard or containment >= settings.containment) and (
            best is None or containment > best[1]
        ):
            best = (candidate.article_id, containment)
    return best


@lake_errors()
def history_candidates(con: duckdb.DuckDBPyConnection, band_keys: pa.Table) -> dict[int, list[ShingleSketch]]:
    """Articles in the lake sharing a band key with an item of the batch, with their sketches."""
    con.register("batch_band_keys", band_keys)
    try:
        rows = con.execute(sql.load("near_candidates")).fetchall()
    finally:
        con.unregister("batch_band_keys")
    found: dict[int, list[ShingleSketch]] = {}
    for item, article_id, shingle_count, sketch in rows:
        found.setdefault(item, []).append(ShingleSketch(article_id, shingle_count, np.frombuffer(sketch, "<u4")))
    return found
