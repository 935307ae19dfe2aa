"""The ingest flow end to end, through Prefect, on a real DuckLake.

The tests that only read what one run of the `inbox` fixture made share one such run (first_run);
those that change the inbox between runs start from `small_inbox`, whose runs cost half as much.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import BBC, BBC_DUPLICATE_PAIR, SEED, fill_inbox, lake_rows

pytestmark = pytest.mark.usefixtures("prefect_harness")


def run_ingest(inbox: Path, lake: Path, **settings):
    from flows.ingest import IngestSettings, ingest

    return ingest(IngestSettings(seeds=inbox, lake=lake, **settings))


def table_counts(lake: Path) -> dict[str, int]:
    tables = ["articles", "entities", "sources", "duplicates", "files", "runs"]
    return {t: lake_rows(lake, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


@dataclass(frozen=True)
class FirstRun:
    inbox: Path
    lake: Path
    summary: object  # tasks.run_history.RunSummary
    artifact: object  # the `ingest-summary` artifact just after the run


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, prefect_harness) -> FirstRun:
    """One run of the `inbox` fixture's files into a new lake, in batches of 10 (several batches,
    several commits), and the summary artifact read right after it. The tests given it only read."""
    from prefect.artifacts import Artifact

    base = tmp_path_factory.mktemp("first_run")
    inbox = fill_inbox(base / "inbox")
    summary = run_ingest(inbox, base / "lake", batch_size=10)
    return FirstRun(inbox, base / "lake", summary, Artifact.get("ingest-summary"))


def test_ingest_accounts_for_every_file(first_run):
    inbox, lake_dir, summary = first_run.inbox, first_run.lake, first_run.summary
    files = sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())
    recorded = lake_rows(lake_dir, "SELECT path, status FROM files ORDER BY path")
    assert [p for p, _ in recorded] == files
    assert summary.status == "completed"
    assert summary.articles_new == len(files) - 1
    assert summary.duplicates == 1 and summary.rejected == 0
    duplicate = lake_rows(lake_dir, "SELECT source_path, method, similarity, article_id FROM duplicates")
    assert duplicate[0][:3] == (f"bbc/{BBC_DUPLICATE_PAIR[1]}", "exact", 1.0)
    canonical = lake_rows(lake_dir, "SELECT source_path FROM articles WHERE article_id = ?", [duplicate[0][3]])
    assert canonical == [(f"bbc/{BBC_DUPLICATE_PAIR[0]}",)]


def test_ingest_seed_fields_exact(first_run):
    lake_dir = first_run.lake
    row = lake_rows(lake_dir, """
        SELECT title, dek, alt_title, authors, outlet, published_at, image_caption, image_credit, topic,
               format, language, word_count, body
        FROM articles WHERE source_path = ?""", [SEED.name])[0]
    (title, dek, alt_title, authors, outlet, published_at, caption, credit, topic, fmt, language,
     word_count, body) = row
    assert title == "Russian Military Chiefs Aren't Taking Calls From US"
    assert dek == "We must avoid a scenario of NATO and Russia sleepwalking into war"
    assert alt_title == "Russian Military Leaders Aren't Taking Calls From Americans"
    assert authors == ["Rob Quinn"] and outlet == "Newser"
    assert published_at == datetime(2022, 3, 24, 11, 59, tzinfo=UTC)
    assert caption.startswith("A Ukrainian National guard soldier") and caption.endswith("March 16, 2022.")
    assert credit == "AP Photo/Andrew Marienko"
    assert topic == "Russia-Ukraine war" and fmt == "newser" and language == "en"
    assert body.startswith("Despite the clear risk") and body.endswith("NATO neighbors.")
    assert "(More" not in body and "Tap to" not in body
    assert word_count == len(body.split())


def test_ingest_seed_entities_and_sources(first_run):
    lake_dir = first_run.lake
    (article_id, body), = lake_rows(lake_dir, "SELECT article_id, body FROM articles WHERE source_path = ?", [SEED.name])
    entities = lake_rows(lake_dir, "SELECT text, name, label, start_char, end_char FROM entities WHERE article_id = ?",
                     [article_id])
    assert all(body[start:end] == text for text, _, _, start, end in entities)
    names = {(text, name) for text, name, label, _, _ in entities if label == "PERSON"}
    assert ("Putin", "Vladimir Putin") in names
    assert ("Stavridis", "James Stavridis") in names
    people = {name for _, name, label, _, _ in entities if label == "PERSON"}
    assert {"John Kirby", "Lloyd Austin", "Vladimir Putin", "Jens Stoltenberg"} <= people
    sources = lake_rows(lake_dir, "SELECT source FROM sources WHERE article_id = ? ORDER BY source", [article_id])
    assert sources == [("New York Times",), ("Washington Post",)]


def test_ingest_rerun_adds_nothing_but_a_run(small_inbox, lake_dir):
    run_ingest(small_inbox, lake_dir)
    before = table_counts(lake_dir)
    summary = run_ingest(small_inbox, lake_dir)
    after = table_counts(lake_dir)
    assert after == {**before, "runs": before["runs"] + 1}
    assert summary.articles_new == 0 and summary.files_unchanged == summary.files_seen
    runs = lake_rows(lake_dir, "SELECT status, articles_new, files_seen FROM runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["completed", "completed"]
    assert runs[1][1] == 0


def test_ingest_touched_file_is_rehashed_once_and_not_reingested(small_inbox, lake_dir):
    run_ingest(small_inbox, lake_dir)
    before = table_counts(lake_dir)
    os.utime(small_inbox / SEED.name, ns=(1_000_000_000, 1_000_000_000))
    run_ingest(small_inbox, lake_dir)
    assert table_counts(lake_dir) == {**before, "runs": before["runs"] + 1}
    summary = run_ingest(small_inbox, lake_dir)
    assert summary.files_unchanged == summary.files_seen  # the new mtime was remembered


def test_ingest_changed_content_is_processed_as_new(small_inbox, lake_dir):
    run_ingest(small_inbox, lake_dir)
    changed = small_inbox / "bbc" / "business_001.txt"
    changed.write_text(changed.read_text() + "\nA late paragraph added by the editor.\n")
    summary = run_ingest(small_inbox, lake_dir)
    # Read and recorded again; the same story with a line added is a near duplicate of its first version.
    assert (summary.articles_new, summary.duplicates_by_method["near"]) == (0, 1)
    rows = lake_rows(lake_dir, "SELECT count(*), count(DISTINCT sha256) FROM files WHERE path = 'bbc/business_001.txt'")
    assert rows == [(2, 2)]


def test_ingest_file_rewritten_with_another_story_is_a_new_article(small_inbox, lake_dir):
    run_ingest(small_inbox, lake_dir)
    changed = small_inbox / "bbc" / "business_001.txt"
    changed.write_text("Markets close higher\n\n" + "Shares in Asia rose for a fifth day as exporters gained. " * 12 + "\n")
    summary = run_ingest(small_inbox, lake_dir)
    assert (summary.articles_new, summary.duplicates) == (1, 0)
    statuses = lake_rows(lake_dir, "SELECT status FROM files WHERE path = 'bbc/business_001.txt' ORDER BY seen_at")
    assert statuses == [("ingested",), ("ingested",)]


def test_ingest_copy_in_later_run_is_exact_duplicate(small_inbox, lake_dir):
    run_ingest(small_inbox, lake_dir)
    shutil.copy(BBC / "business_001.txt", small_inbox / "copy-of-business-001.txt")
    summary = run_ingest(small_inbox, lake_dir)
    assert (summary.articles_new, summary.duplicates) == (0, 1)
    status = lake_rows(lake_dir, "SELECT status FROM files WHERE path = 'copy-of-business-001.txt'")
    assert status == [("duplicate",)]


def test_ingest_run_row_and_snapshot(first_run):
    lake_dir, summary = first_run.lake, first_run.summary
    (run_id, flow, status, seen, new, dups, rejected, snapshot_id, finished), = lake_rows(
        lake_dir, "SELECT run_id, flow, status, files_seen, articles_new, duplicates, rejected, snapshot_id, "
                  "finished_at FROM runs")
    assert (run_id, flow, status) == (summary.run_id, "ingest", "completed")
    assert (seen, new, dups, rejected) == (34, 33, 1, 0)
    assert finished is not None
    snapshots = lake_rows(lake_dir, "SELECT snapshot_id FROM lake.snapshots() WHERE commit_extra_info LIKE ?",
                      [f'%{run_id}%'])
    assert snapshot_id == max(s for s, in snapshots)


def test_ingest_publishes_summary_artifact(first_run):
    summary, artifact = first_run.summary, first_run.artifact
    assert artifact is not None and summary.run_id in artifact.description
    assert "new articles" in str(artifact.data)


def test_ingest_rejects_bad_files_and_goes_on(small_inbox, lake_dir):
    (small_inbox / "empty.txt").write_bytes(b"")
    (small_inbox / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (small_inbox / "headline-only.txt").write_text("Just a headline\n")
    os.symlink("/etc/passwd", small_inbox / "escape.txt")
    summary = run_ingest(small_inbox, lake_dir)
    assert summary.status == "completed" and summary.articles_new == 4
    rejected = dict(lake_rows(lake_dir, "SELECT path, reason FROM files WHERE status = 'rejected'"))
    assert set(rejected) == {"empty.txt", "image.txt", "headline-only.txt", "escape.txt"}
    assert rejected["empty.txt"] == "empty"
    assert rejected["headline-only.txt"] == "no body"
    assert rejected["escape.txt"].startswith("outside inbox")
    assert rejected["image.txt"].startswith("binary")
