"""Near-duplicate detection: every kind of copy is caught, different stories on one subject are not.

Fixtures in tests/fixtures/near: `original.txt` (a BBC story) and one copy of it per kind (made by
bench/dedup_copies.py), plus two different BBC stories about the same charity single that share
whole passages (`same_topic_a.txt`, `same_topic_b.txt`): the hardest negative in the corpus.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash

from tasks import schema
from tasks.dedup import Deduplicated, article_id_for, normalize_body, split_exact_duplicates
from tasks.near_dedup import (
    BANDS,
    MINHASH_SEED,
    NUM_PERM,
    SKETCH_SIZE,
    NearDedupSettings,
    ShingleSketch,
    _signatures,
    minhash_band_rows,
    shingle_bodies,
    shingle_hashes,
    shingle_set,
    shingle_sketch_rows,
    similarity,
    split_near_duplicates,
    words_of,
)
from tasks.parse import parse_document
from tasks.read import ReadResult
from tasks.records import Article, FileRef
from tests.conftest import lake_rows

NEAR = Path(__file__).parent / "fixtures" / "near"
COPY_KINDS = ["syndicated", "copy_edit", "trimmed", "rewrap"]


def read_result(name: str, text: str | None = None) -> ReadResult:
    text = (NEAR / name).read_text(encoding="utf-8") if text is None else text
    return ReadResult(FileRef(name, len(text), 0), f"sha-{name}", article=parse_document(text))


def batch_of(*results: ReadResult) -> Deduplicated:
    return Deduplicated(new=[(r, article_id_for(r.article.body)) for r in results], duplicates=[], rejected=[])


def history_of(*results: ReadResult):
    """The lookup near dedup makes against the lake, answered from articles held in memory: those
    sharing a band key with an item, with the sketch the lake would hold, as the SQL join does."""
    bodies = [r.article.body for r in results]
    indexed = [(article_id_for(b), s.index_entry()) for b, s in zip(bodies, shingle_bodies(bodies, 1))]

    def lookup(batch_keys: pa.Table) -> dict[int, list[ShingleSketch]]:
        found: dict[int, dict[str, ShingleSketch]] = {}
        for item, band, key in zip(*(batch_keys[c].to_pylist() for c in ("item", "band", "band_hash"))):
            for article_id, entry in indexed:
                if entry.band_keys[band] == key:
                    found.setdefault(item, {})[article_id] = ShingleSketch(article_id, entry.shingle_count, entry.sketch)
        return {item: list(candidates.values()) for item, candidates in found.items()}

    return lookup


def no_history(batch_keys: pa.Table) -> dict:
    return {}


@pytest.mark.parametrize("kind", COPY_KINDS)
def test_near_copy_of_history_article_is_duplicate(kind):
    original = read_result("original.txt")
    out = split_near_duplicates(batch_of(read_result(f"{kind}.txt")), history_of(original))
    assert out.new == [] and out.near_index == {}
    (mark,) = out.duplicates
    assert (mark.file.ref.path, mark.article_id, mark.method) == (f"{kind}.txt", article_id_for(original.article.body), "near")
    assert 0.8 <= mark.similarity <= 1.0


@pytest.mark.parametrize("kind", COPY_KINDS)
def test_near_copy_later_in_batch_is_duplicate_of_first(kind):
    original, copy = read_result("original.txt"), read_result(f"{kind}.txt")
    out = split_near_duplicates(batch_of(original, copy), no_history)
    assert [r.ref.path for r, _ in out.new] == ["original.txt"]
    assert [(m.file.ref.path, m.article_id, m.method) for m in out.duplicates] == [
        (f"{kind}.txt", article_id_for(original.article.body), "near")]


@pytest.mark.parametrize("via_history", [False, True])
def test_near_same_topic_stories_stay_apart(via_history):
    first, second = read_result("same_topic_a.txt"), read_result("same_topic_b.txt")
    jaccard, containment = similarity(shingle_set(first.article.body), exact_candidate(second.article.body))
    assert jaccard > 0.3 and containment > 0.5  # they do share whole passages
    batch = batch_of(second) if via_history else batch_of(first, second)
    out = split_near_duplicates(batch, history_of(first) if via_history else no_history)
    assert out.duplicates == [] and len(out.new) == len(batch.new)


def test_near_short_texts_are_deduplicated_exactly_only():
    text = "Short note\n\nThe council meets on Monday to vote on the new budget for the town centre.\n"
    batch = batch_of(read_result("a.txt", text), read_result("b.txt", text.replace("Monday", "Tuesday")))
    out = split_near_duplicates(batch, no_history)
    assert len(out.new) == 2 and out.duplicates == [] and out.near_index == {}


def test_near_thresholds_are_settings():
    original, copy = read_result("original.txt"), read_result("copy_edit.txt")
    strict = NearDedupSettings(jaccard=0.99, containment=0.99)
    out = split_near_duplicates(batch_of(copy), history_of(original), strict)
    assert out.duplicates == [] and len(out.new) == 1


def test_near_new_stories_carry_index_rows():
    first, second = read_result("same_topic_a.txt"), read_result("same_topic_b.txt")
    out = split_near_duplicates(batch_of(first, second), no_history)
    new_ids = {article_id for _, article_id in out.new}
    bands = minhash_band_rows(out.near_index)
    assert bands.schema == schema.MINHASH_BANDS and bands.num_rows == 2 * 2 * BANDS
    assert set(bands["article_id"].to_pylist()) == new_ids
    assert sorted(set(bands["band"].to_pylist())) == list(range(2 * BANDS))
    sketches = shingle_sketch_rows(out.near_index)
    assert sketches.schema == schema.SHINGLE_SKETCHES and set(sketches["article_id"].to_pylist()) == new_ids
    for body, count, sketch in zip(
        (first.article.body, second.article.body), sketches["shingle_count"].to_pylist(), sketches["sketch"].to_pylist()
    ):
        shingles = shingle_set(body)
        assert count == len(shingles) > SKETCH_SIZE  # long stories: the sketch is a sample
        assert np.frombuffer(sketch, "<u4").tolist() == shingles[:SKETCH_SIZE].tolist()


def exact_candidate(body: str) -> ShingleSketch:
    shingles = shingle_set(body)
    return ShingleSketch("other", len(shingles), shingles)


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("one two three four five", "one two three four five", (1.0, 1.0)),
    ("one two three four five", "one two three four", (2 / 3, 1.0)),  # trimmed: contained whole
    ("one two three four five", "six seven eight nine ten", (0.0, 0.0)),
])
def test_near_similarity_of_shingle_sets(a, b, expected):
    assert similarity(shingle_set(a), exact_candidate(b)) == pytest.approx(expected)


@pytest.mark.parametrize("other", [*(f"{kind}.txt" for kind in COPY_KINDS), "same_topic_a.txt", "same_topic_b.txt"])
def test_near_similarity_from_sketch_is_close_to_exact(other):
    """The sketch of a story longer than SKETCH_SIZE shingles estimates what its whole set gives."""
    original = shingle_set(read_result("original.txt").article.body)
    assert len(original) > SKETCH_SIZE
    sketched = ShingleSketch("original", len(original), original[:SKETCH_SIZE])
    shingles = shingle_set(read_result(other).article.body)
    estimate, exact = similarity(shingles, sketched), similarity(shingles, exact_candidate(read_result("original.txt").article.body))
    assert estimate == pytest.approx(exact, abs=0.06)


FIXTURE_NAMES = ["original.txt", *(f"{kind}.txt" for kind in COPY_KINDS), "same_topic_a.txt", "same_topic_b.txt"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_near_index_layout_is_unchanged(name):
    """Band keys in the lake were made from datasketch's MinHash over the words of normalize_body:
    the faster computations give the same values, so existing `minhash_bands` rows stay valid."""
    body = read_result(name).article.body
    words = words_of(body)
    assert words == re.findall(r"\w+", normalize_body(body))
    hashes = shingle_hashes(words)
    (expected,) = MinHash.bulk([hashes.tolist()], num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=lambda value: value)
    assert _signatures([hashes]).tolist() == [expected.hashvalues.tolist()]


@pytest.mark.usefixtures("prefect_harness")
def test_near_copy_in_later_run_is_caught_against_history(tmp_path):
    from flows.ingest import IngestSettings, ingest

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    for name in ("original.txt", "same_topic_a.txt", "same_topic_b.txt"):
        shutil.copy(NEAR / name, inbox / name)
    first = ingest(IngestSettings(seeds=inbox, lake=lake))
    assert (first.articles_new, first.duplicates) == (3, 0)
    entities_before = lake_rows(lake, "SELECT count(*) FROM entities")

    shutil.copy(NEAR / "copy_edit.txt", inbox / "copy_edit.txt")
    second = ingest(IngestSettings(seeds=inbox, lake=lake))
    assert (second.articles_new, dict(second.duplicates_by_method)) == (0, {"near": 1})
    assert lake_rows(lake, "SELECT count(*) FROM articles") == [(3,)]
    assert lake_rows(lake, "SELECT count(*) FROM entities") == entities_before  # no NER for a duplicate
    assert lake_rows(lake, "SELECT f.status, a.source_path FROM files AS f JOIN articles AS a USING (article_id) "
                           "WHERE f.path = 'copy_edit.txt'") == [("duplicate", "original.txt")]
    (method, similarity_value, canonical), = lake_rows(
        lake, "SELECT d.method, d.similarity, a.source_path FROM duplicates AS d JOIN articles AS a USING (article_id)")
    assert (method, canonical) == ("near", "original.txt") and similarity_value >= 0.8
    assert lake_rows(lake, "SELECT count(DISTINCT article_id), count(*) FROM minhash_bands") == [(3, 3 * 2 * BANDS)]
    assert lake_rows(lake, "SELECT count(*) FROM shingle_sketches JOIN articles USING (article_id)") == [(3,)]


def test_cli_near_copy_of_history_beside_new_stories(tmp_path, prefect_harness):
    """`newslake ingest` of a near copy of an old story beside new stories: the copy is a
    duplicate, and the new stories get their own entities. The command runs in this process, as in
    tests/test_cli.py (its reading of the first batch ahead included): a process of its own would
    add only its start-up."""
    from typer.testing import CliRunner

    from newslake.cli import app

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    shutil.copy(NEAR / "original.txt", inbox / "original.txt")

    def ingest() -> None:
        result = CliRunner().invoke(app, ["ingest", "--seeds", str(inbox), "--lake", str(lake)])
        assert result.exit_code == 0, result.output

    ingest()
    for name in ("copy_edit.txt", "same_topic_a.txt", "same_topic_b.txt"):
        shutil.copy(NEAR / name, inbox / name)
    ingest()
    assert lake_rows(lake, "SELECT path, status FROM files ORDER BY path") == [
        ("copy_edit.txt", "duplicate"), ("original.txt", "ingested"),
        ("same_topic_a.txt", "ingested"), ("same_topic_b.txt", "ingested")]
    from tasks.enrich import enrich_bodies

    for name in ("same_topic_a.txt", "same_topic_b.txt"):
        [expected] = enrich_bodies([read_result(name).article.body], n_process=1)
        stored = lake_rows(lake, "SELECT e.name, e.label, e.start_char FROM entities AS e JOIN articles AS a "
                                 f"USING (article_id) WHERE a.source_path = '{name}' ORDER BY e.start_char, e.name")
        assert stored == sorted(((e.name, e.label, e.start_char) for e in expected.entities), key=lambda r: (r[2], r[0]))


def test_exact_copy_of_a_near_copy_points_at_the_article_it_repeats():
    # trimmed.txt twice: the second is an exact copy of the first, which is a near copy of
    # original.txt; both end as duplicates of original's article, never of a story not kept.
    original, trimmed = (NEAR / "original.txt").read_text(encoding="utf-8"), (NEAR / "trimmed.txt").read_text(encoding="utf-8")
    files = [ReadResult(FileRef(path, len(body), 0), f"sha-{path}", article=Article(body=body, format="plain"))
             for path, body in [("a.txt", original), ("b.txt", trimmed), ("c.txt", trimmed)]]
    out = split_near_duplicates(split_exact_duplicates(files, lambda ids: set()), lambda keys: {}, NearDedupSettings())
    assert [r.ref.path for r, _ in out.new] == ["a.txt"]
    assert {(m.file.ref.path, m.article_id, m.method) for m in out.duplicates} == {
        ("b.txt", article_id_for(original), "near"), ("c.txt", article_id_for(original), "near")}
