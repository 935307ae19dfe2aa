"""Bad input: every file that lands in the inbox ends in exactly one known state with a reason.

All the cases share ONE inbox (among good articles) and ONE flow run through Prefect; each row of
CASES then checks its file's `files.status` and `files.reason` (and the body, for the files that
are really articles in an awkward encoding or shape). The inbox is reached through a symlink, and
the forbidden targets sit in a sibling folder whose name shares the inbox's prefix.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasks.discover import FileToIngest, scan_inbox
from tasks.read import human_size, read_and_parse, read_inside
from tasks.records import FileRef, Rejected
from tests.conftest import BBC

MAX_FILE_BYTES = 2 * 1024 * 1024  # small, so a sparse file is "far over the limit" cheaply
GOOD_ARTICLES = sorted(BBC.glob("business_00*.txt"))
OUTSIDE_SECRET = "Secret memo that must never reach the lake"
FIXTURES = Path(__file__).parent / "fixtures" / "bad"


def story(marker: str) -> str:
    """A short plain-text article whose body is unique to `marker`."""
    return (f"Council approves {marker} plan\n\n"
            f"The council voted on Tuesday to approve the {marker} plan after a long debate.\n\n"
            f"Opponents said the {marker} plan would cost more than promised and vowed to appeal.\n")


@dataclass(frozen=True)
class Case:
    path: str  # relative to the inbox
    make: Callable[[Path, Path], None]  # (file to create, the sibling folder outside the inbox)
    status: str
    reason: str | None = None
    body_has: tuple[str, ...] = ()  # for ingested files: text the body must contain
    recorded_as: str | None = None  # the path in `files`, when it cannot be the name itself

    @property
    def recorded_path(self) -> str:
        return self.recorded_as or self.path


def write(data: bytes | str) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return make


def symlink(target: str | Callable[[Path, Path], str]) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        os.symlink(target(path, outside) if callable(target) else target, path)
    return make


def sparse(size: int) -> Callable[[Path, Path], None]:
    def make(path: Path, outside: Path) -> None:
        path.touch()
        os.truncate(path, size)  # large on disk, costs nothing: it must never be read anyway
    return make


def mkfifo(path: Path, outside: Path) -> None:
    os.mkfifo(path)


LATIN1_LINE = "Le café était très bon à Zürich, dit-il."
CP1252_LINE = "He said “it’s fine” — and left the room."
UTF16_LINE = "Straße, café and naïve résumé, all in UTF-16."
BROKEN_UTF8_LINE = "Café crème ünd Brötchen"

CASES = {
    "empty": Case("empty.txt", write(b""), "rejected", "empty"),
    "whitespace": Case("whitespace.txt", write(" \n\t\n   \r\n\n"), "rejected", "only whitespace"),
    "headline only": Case("headline-only.txt", write("Just A Headline With No Story\n\n"), "rejected", "no body"),
    "png": Case("photo.txt", write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8),
                "rejected", "binary (PNG image)"),
    "random bytes": Case("noise.txt", write(random.Random(5).randbytes(8192)), "rejected", "binary"),
    "gzip": Case("archived.txt.gz", write(gzip.compress(story("gzip").encode())), "ingested",
                 body_has=("gzip",)),
    "truncated gzip": Case("cut.txt.gz", write(gzip.compress(story("cut").encode())[:-40]), "rejected",
                           "truncated gzip (the compressed data ends early)"),
    "latin-1": Case("latin1.txt", write((story("latin") + LATIN1_LINE + "\n").encode("latin-1")),
                    "ingested", body_has=(LATIN1_LINE,)),
    "cp1252 curly quotes": Case("cp1252.txt", write((story("cp1252") + CP1252_LINE + "\n").encode("cp1252")),
                                "ingested", body_has=(CP1252_LINE,)),
    "utf-16 with bom": Case("utf16.txt", write((story("utf16") + UTF16_LINE + "\n").encode("utf-16")),
                            "ingested", body_has=(UTF16_LINE,)),
    "utf-8 with invalid bytes": Case(
        "broken-utf8.txt", write((story("broken") + BROKEN_UTF8_LINE).encode() + b" \xff\xfe end.\n"),
        "ingested", body_has=(BROKEN_UTF8_LINE, "\ufffd")),
    "nul bytes": Case("nul.txt", write(story("nul").encode() + b"Stray\x00 NUL\x00 bytes vanish.\n"),
                      "ingested", body_has=("Stray NUL bytes vanish.",)),
    "far over the size limit": Case("huge.txt", sparse(63 * 1024 * 1024), "rejected", "too large (63 MB > 2 MB limit)"),
    "1 MB single line": Case("one-line.txt", write("word " * (1024 * 1024 // 5) + "word"),
                             "rejected", "too long for an article (1,048,579 characters > 200,000 limit)"),
    "html saved as txt": Case("saved-page.txt", write((FIXTURES / "saved_page.txt").read_bytes()), "ingested",
                              body_has=("The ferry linking the old harbour", "backlog of vehicles")),
    "name with spaces": Case("a name with spaces.txt", write(story("spaces")), "ingested"),
    "non-ascii name": Case("naïve ünïcode 新闻.txt", write(story("unicode name")), "ingested"),
    "newline in name": Case("first\nsecond.txt", write(story("newline name")), "ingested"),
    "name not valid utf-8": Case("caf\udce9 latin-1 name.txt", write(story("latin-1 name")), "rejected",
                                 "file name is not valid UTF-8 (rename it to ingest it)",
                                 recorded_as="caf\\xe9 latin-1 name.txt"),
    "nested folders": Case("2024/05/17/nested.txt", write(story("nested")), "ingested"),
    "symlink outside": Case("escape.txt", symlink(lambda p, outside: str(outside / "secret.txt")),
                            "rejected", "outside inbox (symlink to a file outside the watched folder)"),
    "relative symlink with ..": Case(
        "sub/dotdot.txt", symlink(lambda p, outside: f"../../{outside.name}/secret.txt"),
        "rejected", "outside inbox (symlink to a file outside the watched folder)"),
    "symlink inside": Case("inner-link.txt", symlink("2024/05/17/nested.txt"), "duplicate"),
    "symlink to folder": Case("folder-link", symlink("2024"), "rejected", "symlink to a folder (not followed)"),
    "broken symlink": Case("dangling.txt", symlink("no-such-file.txt"), "rejected", "broken symlink"),
    "symlink loop": Case("loop-a.txt", symlink("loop-b.txt"), "rejected", "symlink loop"),
    "symlink loop, other end": Case("loop-b.txt", symlink("loop-a.txt"), "rejected", "symlink loop"),
    "named pipe": Case("pipe.txt", mkfifo, "rejected", "not a regular file (named pipe)"),
}


@pytest.fixture(scope="module")
def bad_lake(tmp_path_factory, prefect_harness) -> dict[str, tuple]:
    """Two runs over every case (the second finds nothing to do); returns path -> (status, reason,
    body, number of `files` rows)."""
    from flows.ingest import IngestSettings, ingest
    from tasks.lake import open_lake

    base = tmp_path_factory.mktemp("bad")
    inbox, outside = base / "inbox", base / "inbox-evil"  # a sibling with the same prefix
    (inbox / "good").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{OUTSIDE_SECRET}\n\n{OUTSIDE_SECRET}, line two.\n")
    for article in GOOD_ARTICLES:
        shutil.copy(article, inbox / "good" / article.name)
    for case in CASES.values():
        (inbox / case.path).parent.mkdir(parents=True, exist_ok=True)
        case.make(inbox / case.path, outside)
    linked_root = base / "inbox-link"  # the inbox itself reached through a symlink
    os.symlink(inbox, linked_root)

    settings = IngestSettings(seeds=linked_root, lake=base / "lake", batch_size=10, max_file_bytes=MAX_FILE_BYTES)
    assert ingest(settings).status == "completed"
    rerun = ingest(settings)  # everything recorded, nothing to redo
    assert (rerun.status, rerun.files_unchanged, rerun.articles_new) == ("completed", rerun.files_seen, 0)
    con = open_lake(base / "lake", read_only=True)
    try:
        rows = con.execute("""
            SELECT f.path, any_value(f.status), any_value(f.reason), any_value(a.body), count(*)
            FROM files AS f LEFT JOIN articles AS a ON a.source_path = f.path
            GROUP BY f.path""").fetchall()
        outside_hits = con.execute("SELECT count(*) FROM articles WHERE body LIKE ? OR title LIKE ?",
                                   [f"%{OUTSIDE_SECRET}%"] * 2).fetchone()[0]
    finally:
        con.close()
    assert outside_hits == 0
    return {path: (status, reason, body, n) for path, status, reason, body, n in rows}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_case_state_and_reason(bad_lake, name):
    case = CASES[name]
    status, reason, body, rows = bad_lake[case.recorded_path]
    assert (status, reason, rows) == (case.status, case.reason, 1)
    for text in case.body_has:
        assert text in body
    if status == "ingested":
        assert "<" not in body and "track(" not in body and "Subscribe" not in body


def test_bad_input_good_articles_ingested(bad_lake):
    for article in GOOD_ARTICLES:
        assert bad_lake[f"good/{article.name}"][0] == "ingested"


def test_bad_input_every_file_recorded_exactly_once(bad_lake):
    expected = {case.recorded_path for case in CASES.values()} | {f"good/{a.name}" for a in GOOD_ARTICLES}
    assert set(bad_lake) == expected
    assert all(rows == 1 for *_, rows in bad_lake.values())


# --- Reading, unit by unit ----------------------------------------------------------------------


def ref_of(root: Path, name: str) -> FileRef:
    stat = (root / name).lstat()
    return FileRef(name, stat.st_size, stat.st_mtime_ns)


def test_read_inside_too_large_reason_realistic(tmp_path):
    sparse(63 * 1024 * 1024)(tmp_path / "huge.txt", tmp_path)
    with pytest.raises(Rejected) as rejected:
        read_inside(tmp_path, ref_of(tmp_path, "huge.txt"), 20 * 1024 * 1024)
    assert rejected.value.reason == "too large (63 MB > 20 MB limit)"


@pytest.mark.parametrize(("size", "text"), [
    (900, "900 bytes"), (64 * 1024, "64 KB"), (int(20.4 * 1024 * 1024), "20.4 MB"),
    (63 * 1024 * 1024, "63 MB"), (150 * 1024 * 1024, "150 MB"), (3 * 1024**3, "3 GB"),
])
def test_human_size(size, text):
    assert human_size(size) == text


def test_scan_inbox_nesting_deeper_than_the_recursion_limit(tmp_path):
    folder = tmp_path
    for _ in range(300):
        folder = folder / "d"
        folder.mkdir()
    (folder / "deep.txt").write_text(story("deep"))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(250)  # below the nesting: a recursive walk would fail
    try:
        [candidate] = scan_inbox(tmp_path, set()).candidates
    finally:
        sys.setrecursionlimit(limit)
    assert candidate.ref.path == "d/" * 300 + "deep.txt"


def test_read_and_parse_file_gone_after_discovery(tmp_path):
    (tmp_path / "gone.txt").write_text(story("gone"))
    (tmp_path / "kept.txt").write_text(story("kept"))
    scan = scan_inbox(tmp_path, set())
    (tmp_path / "gone.txt").unlink()
    results, _ = read_and_parse(tmp_path, scan.candidates, set())
    outcome = {r.ref.path: r.rejection for r in results}
    assert outcome == {"gone.txt": "disappeared before it could be read", "kept.txt": None}


def test_read_and_parse_file_changed_after_discovery_reads_new_content(tmp_path):
    (tmp_path / "edited.txt").write_text(story("first draft"))
    scan = scan_inbox(tmp_path, set())
    (tmp_path / "edited.txt").write_text(story("final version, a little longer"))
    [result], _ = read_and_parse(tmp_path, scan.candidates, set())
    assert "final version" in result.article.body
    assert result.ref == ref_of(tmp_path, "edited.txt")  # the stat of the bytes actually read


def test_read_inside_file_changed_while_being_read(tmp_path, monkeypatch):
    path = tmp_path / "growing.txt"
    path.write_text(story("growing"))
    real_fstat, calls = os.fstat, []

    def fstat_while_a_writer_appends(fd):
        calls.append(fd)
        if len(calls) == 2:  # after the read, before the check: another process appends
            with path.open("a") as writer:
                writer.write("A paragraph that arrived mid-read.\n")
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", fstat_while_a_writer_appends)
    with pytest.raises(Rejected) as rejected:
        read_inside(tmp_path, ref_of(tmp_path, "growing.txt"), MAX_FILE_BYTES)
    assert rejected.value.reason == "changed while being read"


def test_read_inside_symlink_swapped_after_discovery(tmp_path):
    inbox, outside = tmp_path / "inbox", tmp_path / "inbox-evil"
    inbox.mkdir(), outside.mkdir()
    (inbox / "real.txt").write_text(story("real"))
    (outside / "secret.txt").write_text(OUTSIDE_SECRET)
    os.symlink("real.txt", inbox / "link.txt")
    [candidate] = [c for c in scan_inbox(inbox, set()).candidates if c.ref.path == "link.txt"]
    assert candidate.rejection is None
    (inbox / "link.txt").unlink()
    os.symlink(outside / "secret.txt", inbox / "link.txt")
    results, _ = read_and_parse(inbox, [candidate], set())
    assert results[0].rejection == "outside inbox (symlink to a file outside the watched folder)"


def test_read_inside_named_pipe_never_blocks(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    # Discovery rejects pipes; reading one handed over anyway must not wait for a writer.
    results, _ = read_and_parse(tmp_path, [FileToIngest(ref_of(tmp_path, "pipe.txt"))], set())
    assert results[0].rejection == "not a regular file"


def test_read_inside_folder_swapped_for_symlink_between_check_and_open(tmp_path, monkeypatch):
    import tasks.read

    inbox, outside = tmp_path / "inbox", tmp_path / "inbox-evil"
    (inbox / "daily").mkdir(parents=True), outside.mkdir()
    (inbox / "daily" / "story.txt").write_text(story("daily"))
    (outside / "story.txt").write_text(OUTSIDE_SECRET)
    real_is_inside = tasks.read.is_inside

    def check_then_swap(path, root):  # the race: the folder is replaced right after the check
        inside = real_is_inside(path, root)
        os.rename(inbox / "daily", tmp_path / "daily-moved")
        os.symlink(outside, inbox / "daily")
        return inside

    monkeypatch.setattr(tasks.read, "is_inside", check_then_swap)
    with pytest.raises(Rejected) as rejected:
        read_inside(inbox, ref_of(inbox, "daily/story.txt"), MAX_FILE_BYTES)
    assert rejected.value.reason == "changed while being read"


def test_lake_path_with_quote_is_escaped_in_attach(tmp_path):
    from tasks.lake import open_lake

    lake = tmp_path / "it's a lake; DROP TABLE x"
    open_lake(lake).close()
    con = open_lake(lake, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    finally:
        con.close()
