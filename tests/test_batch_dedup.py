"""tasks.batch_dedup: dedup of a batch against the lake and the batch still in NER (real DuckLake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.batch_dedup import dedup_after_pending
from tasks.dedup import Deduplicated, article_id_for
from tasks.lake import open_lake
from tasks.near_dedup import NearDedupSettings, split_near_duplicates
from tasks.read import ReadResult
from tasks.records import Article, FileRef

NEAR = Path(__file__).parent / "fixtures" / "near"


def result(path: str, body: str) -> ReadResult:
    return ReadResult(FileRef(path, len(body), 0), f"sha-{path}", article=Article(body=body, format="plain"))


def pending_batch(*files: ReadResult) -> Deduplicated:
    """A batch as the flow holds it while in NER: new stories with their band keys."""
    batch = Deduplicated(new=[(f, article_id_for(f.article.body)) for f in files], duplicates=[], rejected=[])
    return split_near_duplicates(batch, lambda keys: {}, NearDedupSettings())


@pytest.fixture
def con(tmp_path):
    connection = open_lake(tmp_path / "lake")
    yield connection
    connection.close()


ORIGINAL = (NEAR / "original.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("copy, method", [(ORIGINAL, "exact"), (ORIGINAL.replace("\n\n", "\n\n\n"), "exact"),
                                          ((NEAR / "copy_edit.txt").read_text(encoding="utf-8"), "near"),
                                          ((NEAR / "trimmed.txt").read_text(encoding="utf-8"), "near")],
                         ids=["same", "rewrapped", "copy-edit", "trimmed"])
def test_dedup_after_pending_copy_of_pending_story(con, copy, method):
    pending = pending_batch(result("a/original.txt", ORIGINAL))
    out = dedup_after_pending(con, [result("b/copy.txt", copy)], pending, NearDedupSettings())
    assert out.new == []
    [mark] = out.duplicates
    assert (mark.article_id, mark.method) == (article_id_for(ORIGINAL), method)


@pytest.mark.parametrize("pending", [None, "other story"], ids=["nothing-pending", "unrelated-pending"])
def test_dedup_after_pending_new_story_stays_new(con, pending):
    other = (NEAR / "same_topic_a.txt").read_text(encoding="utf-8")
    in_ner = pending_batch(result("a/other.txt", other)) if pending else None
    out = dedup_after_pending(con, [result("b/original.txt", ORIGINAL)], in_ner, NearDedupSettings())
    assert [article_id for _, article_id in out.new] == [article_id_for(ORIGINAL)]
    assert out.duplicates == []
