"""The pieces of a writer that shares a lake's PostgreSQL catalog, on a real PostgreSQL and a real
DuckLake: the late dedup at commit time (two writers given copies of one story at the same moment:
the first commits, the second finds it at its commit), files a dead writer committed but never
completed, the liveness of runs, and the leases a writer keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from tasks import claims
from tasks.claimed_records import SMALLEST_CLAIM, ClaimedRecords, claim_size
from tasks.commit import build_batch_rows
from tasks.dedup import Deduplicated, DuplicateMark, article_id_for
from tasks.discover import discover
from tasks.formats.settings import FormatSettings
from tasks.lake import LakeLocation, commit_batch, open_lake
from tasks.late_dedup import recheck_new_stories
from tasks.near_dedup import NearDedupSettings, split_near_duplicates
from tasks.read import DEFAULT_MAX_FILE_BYTES, ReadResult
from tasks.records import Article, Enrichment, FileRef
from tasks.run_history import RunSummary, record_run_start
from tests.conftest import poll_until

NEAR = Path(__file__).parent / "fixtures" / "near"
ORIGINAL = (NEAR / "original.txt").read_text(encoding="utf-8")
COPY_EDIT = (NEAR / "copy_edit.txt").read_text(encoding="utf-8")
OTHER = (NEAR / "same_topic_a.txt").read_text(encoding="utf-8")
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def result(path: str, body: str) -> ReadResult:
    return ReadResult(FileRef(path, len(body), 0), f"sha-{path}", article=Article(body=body, format="plain"))


def deduplicated(*files: ReadResult) -> Deduplicated:
    """A batch of new stories as a writer's early dedup leaves it, with their near-dedup entries."""
    batch = Deduplicated(new=[(f, article_id_for(f.article.body)) for f in files], duplicates=[], rejected=[])
    return split_near_duplicates(batch, lambda keys: {}, NearDedupSettings())


def enrichment(words: int) -> Enrichment:
    return Enrichment(entities=[], sources=[], word_count=words, language="en")


def commit(con, batch: Deduplicated, run_id: str) -> None:
    rows = build_batch_rows(batch, [enrichment(1)] * len(batch.new), run_id=run_id, now=NOW)
    commit_batch(con, rows, run_id=run_id, batch=0)


@pytest.fixture
def con(tmp_path):
    connection = open_lake(tmp_path / "lake")
    yield connection
    connection.close()


@pytest.mark.parametrize("copy, method", [(ORIGINAL.replace("\n\n", "\n\n\n"), "exact"), (COPY_EDIT, "near")],
                         ids=["rewrapped", "copy-edit"])
def test_late_dedup_demotes_stories_another_writer_committed_meanwhile(con, copy, method):
    # Writer B deduplicated its batch while the lake was empty; writer A then committed the story.
    commit(con, deduplicated(result("a/original.txt", ORIGINAL)), run_id="writer-a")
    batch = deduplicated(result("b/other.txt", OTHER), result("b/copy.txt", copy))
    demoted: dict[str, str] = {}
    rechecked, kept = recheck_new_stories(con, batch, [enrichment(10), enrichment(20)], NearDedupSettings(), demoted)
    assert [r.ref.path for r, _ in rechecked.new] == ["b/other.txt"]
    assert [e.word_count for e in kept] == [10]
    assert [(m.file.ref.path, m.article_id, m.method) for m in rechecked.duplicates] == [
        ("b/copy.txt", article_id_for(ORIGINAL), method)]
    assert set(rechecked.near_index) == {article_id_for(OTHER)}
    assert demoted == {article_id_for(copy): article_id_for(ORIGINAL)}


def test_late_dedup_points_the_next_batch_at_the_lake_article(con):
    # A story of batch k was demoted at its commit; batch k+1, deduplicated against batch k while
    # it was pending, marked a copy as a duplicate of that story, which will never be in the lake.
    demoted = {"pending-story": "lake-story"}
    copy = result("b/copy.txt", OTHER)
    batch = Deduplicated(new=[], duplicates=[DuplicateMark(copy, "pending-story", "near", 0.9)], rejected=[])
    rechecked, kept = recheck_new_stories(con, batch, [], NearDedupSettings(), demoted)
    assert [(m.file, m.article_id) for m in rechecked.duplicates] == [(copy, "lake-story")]
    assert kept == []


def test_late_dedup_points_the_batch_own_copies_at_the_lake_article(con):
    # Writer B's batch held a near copy of a story and an exact copy of that: its early dedup made
    # the second a duplicate of the first. Writer A then committed the story. Both of B's files end
    # as duplicates of A's article, none of them of B's first, which never lands.
    commit(con, deduplicated(result("a/original.txt", ORIGINAL)), run_id="writer-a")
    own_story = result("b/copy_edit.txt", COPY_EDIT)
    own_copy = result("b/copy_edit_again.txt", COPY_EDIT.replace("\n\n", "\n\n\n"))
    batch = deduplicated(own_story, own_copy)
    assert [m.file for m in batch.duplicates] == [own_copy]  # the early dedup's verdict, within the batch
    demoted: dict[str, str] = {}
    rechecked, kept = recheck_new_stories(con, batch, [enrichment(10)], NearDedupSettings(), demoted)
    assert rechecked.new == [] and kept == []
    assert sorted((m.file.ref.path, m.article_id) for m in rechecked.duplicates) == [
        ("b/copy_edit.txt", article_id_for(ORIGINAL)), ("b/copy_edit_again.txt", article_id_for(ORIGINAL))]


def test_late_dedup_keeps_a_batch_the_lake_does_not_have(con):
    batch = deduplicated(result("b/original.txt", ORIGINAL), result("b/other.txt", OTHER))
    rechecked, kept = recheck_new_stories(con, batch, [enrichment(1), enrichment(2)], NearDedupSettings(), {})
    assert rechecked.new == batch.new and rechecked.duplicates == [] and len(kept) == 2


def test_claimed_records_skip_files_a_dead_writer_committed_without_completing(tmp_path, catalog_url,
                                                                                  claims_con):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text(ORIGINAL, encoding="utf-8")
    (inbox / "b.txt").write_text(OTHER, encoding="utf-8")
    location = LakeLocation(tmp_path / "data", catalog_url)
    lake = open_lake(location)
    discovery = discover(lake, inbox)
    refs = {c.ref.path: c.ref for c in discovery.scan.candidates}
    # The dead writer's commit of a.txt landed; it died before completing its claim, which was
    # then freed (its lease ran out), so both files are free to claim.
    landed = ReadResult(refs["a.txt"], "sha-a", article=Article(body=ORIGINAL, format="plain"))
    commit(lake, deduplicated(landed), run_id="dead-writer")
    claims.offer(claims_con, refs.values())
    try:
        with claims.WriterSession(catalog_url, "run-1", "writer") as shared, \
                ClaimedRecords(lake, shared, inbox, discovery, claim_files=10, max_file_bytes=DEFAULT_MAX_FILE_BYTES,
                               formats=FormatSettings()) as stream:
            batch = stream.next_batch(10)
            assert [r.ref.path for r in batch.results] == ["b.txt"]
            [claim] = batch.claims
            assert {f.path for f in claim.files} == {"a.txt", "b.txt"}
            assert stream.next_batch(10).is_empty
    finally:
        lake.close()


def test_alive_runs_are_those_whose_writer_session_lives(catalog_url, claims_con):
    writer = claims.connect(catalog_url)
    claims.hold_run(writer, "run-alive")
    assert claims.alive_runs(claims_con, ["run-alive", "run-dead"]) == {"run-alive"}
    writer.close()  # the writer's process dies: PostgreSQL ends its session, and its locks, soon after
    assert poll_until(lambda: claims.alive_runs(claims_con, ["run-alive"]) == set(), timeout=10, interval=0.05)


def test_run_start_marks_crashed_only_runs_whose_writer_is_gone(tmp_path, catalog_url, claims_con):
    lake = open_lake(LakeLocation(tmp_path / "data", catalog_url))
    alive = partial(claims.alive_runs, claims_con)
    writer = claims.connect(catalog_url)
    try:
        claims.hold_run(writer, "run-1")
        record_run_start(lake, RunSummary(run_id="run-1", started_at=NOW), "ingest", alive)
        assert record_run_start(lake, RunSummary(run_id="run-2", started_at=NOW), "ingest", alive) == 0
        writer.close()
        assert poll_until(lambda: alive(["run-1"]) == set(), timeout=10, interval=0.05)
        assert record_run_start(lake, RunSummary(run_id="run-3", started_at=NOW), "ingest", alive) == 2
        statuses = dict(lake.execute("SELECT run_id, status FROM runs").fetchall())
        # run-2 never held a run lock, as a writer killed before its first step: crashed too
        assert statuses == {"run-1": "crashed", "run-2": "crashed", "run-3": "running"}
    finally:
        lake.close()


def test_lease_keeper_confirms_held_claims_and_notices_a_lost_one(catalog_url, claims_con):
    files = [FileRef(f"f{n}.txt", n, n) for n in range(4)]
    claims.offer(claims_con, files)
    holder = claims.Holder.this_process("slow-writer")
    claim = claims.claim_batch(claims_con, holder, 4, lease_seconds=0.01)
    leases = claims.LeaseKeeper(catalog_url)
    try:
        leases.hold(claim)
        # Its lease ran out before it renewed; another writer took the files.
        claims_con.execute("SELECT pg_sleep(0.05)")
        taken = claims.claim_batch(claims_con, claims.Holder("other", "elsewhere", 1, None), 4, 60)
        assert taken is not None and len(taken.files) == 4
        with pytest.raises(claims.ClaimLost):
            leases.confirm()
    finally:
        leases.close()


def test_claim_size_is_a_share_of_the_work_left():
    alone = claims.Writers(others=0, held_by_others=0, held_here=0)
    assert claim_size(900, alone, most=400) == 400  # no one to share with: whole batches
    assert claim_size(900, alone, most=1000) == 900
    # Three writers started together: each claims a third, the first one too.
    assert claim_size(900, claims.Writers(others=2, held_by_others=0, held_here=0), most=400) == 300
    assert claim_size(600, claims.Writers(others=2, held_by_others=300, held_here=0), most=400) == 300
    # Later, a writer that holds a batch still in NER counts it in its share.
    assert claim_size(300, claims.Writers(others=2, held_by_others=400, held_here=200), most=400) == 100
    # As the inbox drains the shares shrink, but never below the smallest claim.
    assert claim_size(30, claims.Writers(others=2, held_by_others=20, held_here=0), most=400) == SMALLEST_CLAIM
    assert claim_size(10, claims.Writers(others=2, held_by_others=0, held_here=100), most=400) == SMALLEST_CLAIM


def offered_inbox(tmp_path: Path, catalog_url: str, claims_con):
    """Three stories in an inbox, discovered against a new shared lake and offered: (inbox, lake, discovery)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, body in enumerate([ORIGINAL, OTHER, COPY_EDIT]):
        (inbox / f"{n}.txt").write_text(body, encoding="utf-8")
    lake = open_lake(LakeLocation(tmp_path / "data", catalog_url))
    discovery = discover(lake, inbox)
    claims.offer(claims_con, [c.ref for c in discovery.scan.candidates])
    return inbox, lake, discovery


def three_batches(inbox: Path, lake, discovery, catalog_url: str, claim_files: int) -> list:
    """The first three batches the flow's writer (this process) reads; closes the lake."""
    try:
        with claims.WriterSession(catalog_url, "run-1", "flow") as shared, \
                ClaimedRecords(lake, shared, inbox, discovery, claim_files=claim_files,
                               max_file_bytes=DEFAULT_MAX_FILE_BYTES, formats=FormatSettings()) as stream:
            return [stream.next_batch(10) for _ in range(3)]
    finally:
        lake.close()


def test_claimed_records_read_one_claim_per_batch(tmp_path, catalog_url, claims_con):
    inbox, lake, discovery = offered_inbox(tmp_path, catalog_url, claims_con)
    batches = three_batches(inbox, lake, discovery, catalog_url, claim_files=2)
    assert [[r.ref.path for r in b.results] for b in batches] == [["0.txt", "1.txt"], ["2.txt"], []]
    assert [len(b.claims) for b in batches] == [1, 1, 0]
    assert [b.files_done for b in batches] == [2, 3, 3]


def test_claimed_records_start_with_the_claim_this_process_made_before_the_flow(tmp_path, catalog_url, claims_con):
    # The CLI's read-ahead claims a first batch before the flow starts; the flow reads it first.
    inbox, lake, discovery = offered_inbox(tmp_path, catalog_url, claims_con)
    other = claims.claim_batch(claims_con, claims.Holder("other", "elsewhere", 1, None), 1, 60)  # 0.txt
    ahead = claims.claim_batch(claims_con, claims.Holder.this_process("read-ahead"), 1, 60)  # 1.txt
    batches = three_batches(inbox, lake, discovery, catalog_url, claim_files=5)
    assert [f.path for f in other.files] == ["0.txt"] and [f.path for f in ahead.files] == ["1.txt"]
    assert [[r.ref.path for r in b.results] for b in batches] == [["1.txt"], ["2.txt"], []]
    assert batches[0].claims == [ahead]
