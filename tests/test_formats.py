"""Formats beyond one article per text file: detection, each reader, bad input, and the flow end to end.

Unit tests call the readers and tasks.read.RecordStream directly; the flow tests run real Prefect, spaCy
and DuckLake. WARC inputs are written here with warcio (tests/formats_builders.py) from the shipped
fixtures' stories, so their bytes are easy to read in the test that makes them.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.discover import scan_inbox
from tasks.formats import detect
from tasks.formats.html import article_from_html
from tasks.formats.jsonrecords import article_from_record
from tasks.formats.settings import FormatSettings, JsonFields
from tasks.read import RecordStream, read_and_parse
from tests.conftest import BBC, lake_rows
from tests.formats_builders import html_page, news_please_record, story_parts, warc_bytes

FORMATS = Path(__file__).parent / "fixtures" / "formats"
STORY = BBC / "tech_004.txt"  # the story the cross-format tests repeat in every format


def story() -> tuple[str, list[str]]:
    return story_parts(STORY.read_text(encoding="utf-8"))


def read_inbox(inbox: Path, **kwargs) -> dict[str, tuple]:
    """path -> (article or None, rejection) of every record `read_and_parse` reads from `inbox`."""
    results, _ = read_and_parse(inbox, scan_inbox(inbox, set()).candidates, set(), **kwargs)
    return {r.ref.path: (r.article, r.rejection) for r in results}


def inbox_with(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    for name, data in files.items():
        (inbox / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return inbox


def pages(count: int) -> list[tuple[str, bytes]]:
    title, paragraphs = story()
    return [(f"https://archive.example.com/{n}", html_page(f"{title} ({n})", [f"Page {n}."] + paragraphs)
             .encode("utf-8")) for n in range(count)]


# --- detection ------------------------------------------------------------------------------------

RSS_HEAD = b'<?xml version="1.0"?>\n<!-- a comment --><rss version="2.0"><channel>'
WARC_HEAD = b"WARC/1.0\r\nWARC-Type: warcinfo\r\n"


@pytest.mark.parametrize(("name", "head", "expected"), [
    ("page.html", b"<!DOCTYPE html><html><body>", detect.HTML),
    ("fragment.htm", b"<div><p>A saved fragment.</p></div>", detect.HTML),
    ("fragment.txt", b"<div><p>A saved fragment.</p></div>", detect.TEXT),  # the text path sniffs HTML itself
    ("feed.rss", RSS_HEAD, detect.FEED),
    ("atom.xml", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">', detect.FEED),
    ("feed.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', detect.FEED),
    ("records.jsonl", b'{"title": "a"}\n{"title": "b"}\n', detect.JSONL),
    ("record.json", b'{"title": "a"}', detect.JSON),
    ("array.json", b'[{"title": "a"}]', detect.JSON),
    ("crawl.warc", WARC_HEAD, detect.WARC),
    ("crawl.warc.gz", gzip.compress(WARC_HEAD, mtime=0), detect.WARC),
    ("story.txt", b"A headline\n\nA body.", detect.TEXT),
    # a mismatch between name and content: the content decides
    ("crawl.html", WARC_HEAD, detect.WARC),
    ("records.jsonl", b"<!doctype html><html>", detect.HTML),
    ("notes.txt", RSS_HEAD, detect.FEED),
    ("page.warc", b"Just a headline\n\nAnd a story.", detect.TEXT),
    ("data.bin", gzip.compress(WARC_HEAD, mtime=0), detect.WARC),
    ("archive.txt.gz", gzip.compress(b"A headline\n\nA body.", mtime=0), detect.GZIP),
])
def test_detect_format_by_content_then_name(name, head, expected):
    assert detect.detect_format(name, head) == expected


# --- HTML -----------------------------------------------------------------------------------------

def test_html_page_fields():
    article = article_from_html((FORMATS / "page.html").read_text(encoding="utf-8"))
    title, paragraphs = story_parts((BBC / "business_002.txt").read_text(encoding="utf-8"))
    assert (article.format, article.title) == ("html", title)
    assert article.authors == ["Sam Writer"]
    assert article.published_at == datetime(2005, 2, 18, 9, 30, tzinfo=UTC)
    assert article.url == "https://www.example-news.co.uk/business/dollar-gains"  # the canonical link
    assert article.source_domain == "example-news.co.uk"
    assert article.body.split("\n\n")[0] == paragraphs[0]
    assert "Home" not in article.body and "Copyright" not in article.body


def test_html_page_fetched_url_wins_and_record_date_is_the_fallback():
    page = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in story()[1]) + "</article></body></html>"
    fetched = datetime(2024, 3, 6, 8, 0, tzinfo=UTC)
    article = article_from_html(page, url="https://www.bbc.co.uk/news/x", fallback_date=fetched)
    assert (article.url, article.source_domain, article.published_at) == (
        "https://www.bbc.co.uk/news/x", "bbc.co.uk", fetched)


# --- JSON and JSONL -------------------------------------------------------------------------------

def test_json_news_please_record_fields():
    title, paragraphs = story()
    article = article_from_record(news_please_record(title, paragraphs), None)
    assert (article.format, article.title, article.authors) == ("json", title, ["Jane Reporter"])
    assert article.url == "https://www.example.org/news/1" and article.source_domain == "example.org"
    assert article.published_at == datetime(2024, 3, 5, 10, 20, tzinfo=UTC)  # no zone given: taken as UTC
    assert article.body.split("\n\n") == paragraphs


def test_json_newsapi_response_is_a_container_of_records(tmp_path):
    inbox = inbox_with(tmp_path, {"newsapi.json": (FORMATS / "newsapi.json").read_bytes()})
    records = read_inbox(inbox)
    assert sorted(records) == ["newsapi.json#1", "newsapi.json#2"]
    first, _ = records["newsapi.json#1"]
    assert first.outlet == "Example Times" and first.authors == ["Ann Lee", "Bo Chen"]
    assert first.published_at == datetime(2005, 3, 4, 8, 15, tzinfo=UTC)
    assert "[+1234 chars]" not in first.body  # NewsAPI's cut marker
    second, _ = records["newsapi.json#2"]
    assert "<p>" not in second.body and len(second.body.split("\n\n")) > 1  # an HTML body, extracted as HTML
    assert second.published_at == datetime(2005, 3, 5, 7, 15, tzinfo=UTC)
    assert second.source_domain == "exampletimes.com"


def test_json_field_mapping_from_settings(tmp_path):
    title, paragraphs = story()
    record = {"headline": title, "story": {"text": "\n".join(paragraphs)}, "link": "https://x.example.com/1",
              "when": "2024-01-02T03:04:05+00:00", "byline": "Kim Park", "paper": "The Example"}
    fields = JsonFields(body="story.text", title="headline", url="link", published_at="when", authors="byline",
                        outlet="paper")
    article = article_from_record(record, fields)
    assert (article.title, article.outlet, article.authors, article.url) == (
        title, "The Example", ["Kim Park"], "https://x.example.com/1")
    assert article.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    inbox = inbox_with(tmp_path, {"custom.json": json.dumps(record)})
    assert read_inbox(inbox)["custom.json"][1].startswith("JSON record with no article body")
    assert read_inbox(inbox, formats=FormatSettings(json_fields=fields))["custom.json"][0].title == title


def test_jsonl_malformed_line_is_rejected_alone(tmp_path):
    title, paragraphs = story()
    lines = [json.dumps(news_please_record(f"{title} {n}", [f"Line {n} is its own story."] + paragraphs))
             for n in range(1, 21)]
    lines[16] = '{"title": "cut off", "maintext": "The line ends'
    lines[4] = ""  # a blank line is no record, and keeps the numbering of the lines after it
    inbox = inbox_with(tmp_path, {"x.jsonl": "\n".join(lines) + "\n"})
    records = read_inbox(inbox)
    assert records["x.jsonl#17"][0] is None
    assert records["x.jsonl#17"][1].startswith("invalid JSON: ")
    landed = [path for path, (article, _) in records.items() if article is not None]
    assert landed == [f"x.jsonl#{n}" for n in range(1, 21) if n not in (5, 17)]
    assert records["x.jsonl#20"][0].title == f"{title} 20"


def test_jsonl_line_over_the_record_limit_is_rejected_unread(tmp_path):
    # The limit is a setting: a 2 GB line is refused the same way as this 100 KB one, reading at most
    # the limit into memory.
    title, paragraphs = story()
    small = json.dumps(news_please_record(title, paragraphs))
    huge = json.dumps(news_please_record("Huge", ["word " * 20_000]))
    inbox = inbox_with(tmp_path, {"big.jsonl": "\n".join([small, huge, small.replace(title, "Again")]) + "\n"})
    records = read_inbox(inbox, formats=FormatSettings(max_record_bytes=20_000))
    assert records["big.jsonl#2"] == (None, "too large (line over the 20,000-byte record limit)")
    assert records["big.jsonl#1"][0].title == title and records["big.jsonl#3"][0].title == "Again"


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_json_nested_10000_deep_is_rejected(tmp_path, name):
    inbox = inbox_with(tmp_path, {name: "[" * 10_000 + "]" * 10_000 + "\n"})
    [(path, (article, reason))] = read_inbox(inbox).items()
    assert article is None and reason == "invalid JSON: nested too deeply"


# --- feeds ----------------------------------------------------------------------------------------

def test_rss_full_content_and_summary_only(tmp_path):
    inbox = inbox_with(tmp_path, {"feed.rss": (FORMATS / "feed.rss").read_bytes()})
    records = read_inbox(inbox)
    full, summary = records["feed.rss#1"][0], records["feed.rss#2"][0]
    tech_021 = story_parts((BBC / "tech_021.txt").read_text(encoding="utf-8"))
    assert full.body.split("\n\n") == tech_021[1] and not full.summary_only
    assert full.format == "feed" and full.outlet == "Example News" and full.title == tech_021[0]
    assert full.url == "https://feeds.example.com/tech/1" and full.source_domain == "feeds.example.com"
    assert full.published_at == datetime(2024, 3, 5, 10, 20, tzinfo=UTC)
    assert summary.summary_only and summary.body == story_parts((BBC / "tech_022.txt").read_text())[1][0]


def test_atom_entry(tmp_path):
    inbox = inbox_with(tmp_path, {"atom.xml": (FORMATS / "atom.xml").read_bytes()})
    [(path, (article, _))] = read_inbox(inbox).items()
    assert path == "atom.xml#1" and article.authors == ["Maria Okafor"] and not article.summary_only
    assert article.published_at == datetime(2024, 4, 2, 6, 30, tzinfo=UTC)
    assert article.body.startswith("Astronomers tracked") and len(article.body.split("\n\n")) == 2


def test_json_feed_items(tmp_path):
    inbox = inbox_with(tmp_path, {"harbour.json": (FORMATS / "jsonfeed.json").read_bytes()})
    records = read_inbox(inbox)
    ferry, market = records["harbour.json#1"][0], records["harbour.json#2"][0]
    assert ferry.format == "feed" and ferry.outlet == "Example Harbour Gazette" and ferry.authors == ["Lee Harper"]
    assert ferry.published_at == datetime(2024, 5, 1, 22, 0, tzinfo=UTC) and not ferry.summary_only
    assert len(ferry.body.split("\n\n")) == 2
    assert market.summary_only and market.body.startswith("The market will move")


def test_xml_bomb_feed_is_refused_unexpanded(tmp_path):
    inbox = inbox_with(tmp_path, {"bomb.rss": (FORMATS / "xml_bomb.rss").read_bytes()})
    assert read_inbox(inbox) == {
        "bomb.rss": (None, "XML entity declarations refused (EntitiesForbidden: possible XML bomb)")}


# --- WARC -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("compressed", [True, False], ids=["warc.gz", "warc"])
def test_warc_responses_become_articles(tmp_path, compressed):
    name = "crawl.warc.gz" if compressed else "crawl.warc"
    inbox = inbox_with(tmp_path, {name: warc_bytes(pages(3), gzip=compressed)})
    records = read_inbox(inbox)
    # request records (1, 3, 5) are counted in the numbering and skipped without a row
    assert sorted(records) == [f"{name}#2", f"{name}#4", f"{name}#6"]
    article = records[f"{name}#4"][0]
    assert article.format == "warc" and article.url == "https://archive.example.com/1"  # WARC-Target-URI
    assert article.source_domain == "archive.example.com"
    assert article.published_at == datetime(2024, 3, 5, 10, 20, tzinfo=UTC)  # the page's own date wins


@pytest.mark.parametrize("compressed", [True, False], ids=["warc.gz", "warc"])
def test_warc_broken_record_mid_file_keeps_the_others(tmp_path, compressed):
    good = [warc_bytes([page], gzip=compressed, with_request=False) for page in pages(3)]
    broken = good[1][:60] + b"\x00 not a record header \x00" * 4 + good[1][150:]
    inbox = inbox_with(tmp_path, {"mixed.warc": good[0] + broken + good[2]})
    records = read_inbox(inbox)
    assert records["mixed.warc#1"][0].url == "https://archive.example.com/0"
    assert records["mixed.warc#2"][0] is None and records["mixed.warc#2"][1].startswith("broken WARC record")
    assert records["mixed.warc#3"][0].url == "https://archive.example.com/2"


def test_warc_truncated_gzip_keeps_the_records_before(tmp_path):
    data = warc_bytes(pages(3), gzip=True, with_request=False)
    inbox = inbox_with(tmp_path, {"cut.warc.gz": data[:-200]})
    records = read_inbox(inbox)
    assert [records[f"cut.warc.gz#{n}"][0].url for n in (1, 2)] == [
        "https://archive.example.com/0", "https://archive.example.com/1"]
    assert records["cut.warc.gz#3"] == (None, "truncated gzip (the last record's compressed data ends early)")


def test_truncated_gzip_file_is_rejected(tmp_path):
    inbox = inbox_with(tmp_path, {"story.txt.gz": gzip.compress(STORY.read_bytes())[:-30]})
    assert read_inbox(inbox) == {"story.txt.gz": (None, "truncated gzip (the compressed data ends early)")}


def test_warc_streams_in_batches_and_accounts_the_container_last(tmp_path):
    inbox = inbox_with(tmp_path, {"crawl.warc.gz": warc_bytes(pages(5), gzip=True, with_request=False)})
    with RecordStream(inbox, scan_inbox(inbox, set()).candidates, set()) as stream:
        batches = []
        while not (batch := stream.next_batch(2)).is_empty:
            batches.append(batch)
    assert [[r.ref.path for r in b.results] for b in batches] == [
        ["crawl.warc.gz#1", "crawl.warc.gz#2"], ["crawl.warc.gz#3", "crawl.warc.gz#4"], ["crawl.warc.gz#5"]]
    assert [[c.ref.path for c in b.containers] for b in batches] == [[], [], ["crawl.warc.gz"]]
    container = batches[-1].containers[0]
    assert container.ref.size == (inbox / "crawl.warc.gz").stat().st_size and container.sha256


# --- the flow, end to end -------------------------------------------------------------------------

def run_ingest(inbox: Path, lake: Path, **settings):
    from flows.ingest import IngestSettings, ingest

    return ingest(IngestSettings(seeds=inbox, lake=lake, **settings))


@pytest.mark.usefixtures("prefect_harness")
def test_flow_every_format_lands_and_dedups_across_formats(tmp_path, lake_dir):
    title, paragraphs = story()
    jsonl_lines = (FORMATS / "newsplease.jsonl").read_text(encoding="utf-8")  # line 1 is the story of STORY
    inbox = inbox_with(tmp_path, {
        "a_story.txt": STORY.read_bytes(),
        "b_newsplease.jsonl": jsonl_lines,
        "c_crawl.warc.gz": warc_bytes([("https://www.bbc.co.uk/news/technology-1",
                                        html_page(title, paragraphs).encode("utf-8"))], gzip=True),
        "page.html": (FORMATS / "page.html").read_bytes(),
        "feed.rss": (FORMATS / "feed.rss").read_bytes(),
        "newsapi.json": (FORMATS / "newsapi.json").read_bytes(),
        "bomb.rss": (FORMATS / "xml_bomb.rss").read_bytes(),
    })
    summary = run_ingest(inbox, lake_dir, batch_size=3)  # records of one file spread over batches
    assert summary.status == "completed"
    files = dict(lake_rows(lake_dir, "SELECT path, status FROM files"))
    assert files == {
        "a_story.txt": "ingested",
        "b_newsplease.jsonl": "container", "b_newsplease.jsonl#1": "duplicate",
        "b_newsplease.jsonl#2": "ingested", "b_newsplease.jsonl#3": "ingested",
        "c_crawl.warc.gz": "container", "c_crawl.warc.gz#2": "duplicate",
        "page.html": "ingested",
        "feed.rss": "container", "feed.rss#1": "ingested", "feed.rss#2": "ingested",
        "newsapi.json": "container", "newsapi.json#1": "ingested", "newsapi.json#2": "ingested",
        "bomb.rss": "rejected",
    }
    # the same story as a .txt, a JSONL line and a WARC record: one article, two duplicates of it
    [(canonical,)] = lake_rows(lake_dir, "SELECT article_id FROM articles WHERE source_path = 'a_story.txt'")
    assert sorted(lake_rows(lake_dir, "SELECT source_path, article_id FROM duplicates")) == [
        ("b_newsplease.jsonl#1", canonical), ("c_crawl.warc.gz#2", canonical)]
    formats = dict(lake_rows(lake_dir, "SELECT source_path, format FROM articles"))
    assert formats["a_story.txt"] == "plain" and formats["page.html"] == "html"
    assert formats["b_newsplease.jsonl#2"] == "json" and formats["feed.rss#1"] == "feed"
    assert lake_rows(lake_dir, "SELECT url, source_domain, summary_only FROM articles WHERE source_path = ?",
                     ["feed.rss#2"]) == [("https://feeds.example.com/tech/2", "feeds.example.com", True)]
    assert summary.articles_new == 8 and summary.duplicates == 2 and summary.rejected == 1


@pytest.mark.usefixtures("prefect_harness")
def test_flow_grown_jsonl_ingests_only_its_new_records(tmp_path, lake_dir):
    lines = (FORMATS / "newsplease.jsonl").read_text(encoding="utf-8").splitlines()
    inbox = inbox_with(tmp_path, {"feed.jsonl": lines[0] + "\n" + lines[1] + "\n"})
    run_ingest(inbox, lake_dir)
    again = run_ingest(inbox, lake_dir)
    assert again.files_unchanged == 1 and again.articles_new == 0  # skipped whole by path, size and mtime
    with (inbox / "feed.jsonl").open("a", encoding="utf-8") as appending:
        appending.write(lines[2] + "\n")
    grown = run_ingest(inbox, lake_dir)
    assert grown.articles_new == 1 and grown.duplicates == 0
    rows = lake_rows(lake_dir, "SELECT path, status, size FROM files WHERE path LIKE 'feed.jsonl%' ORDER BY path, size")
    size = (inbox / "feed.jsonl").stat().st_size
    assert [(p, s) for p, s, _ in rows] == [
        ("feed.jsonl", "container"), ("feed.jsonl", "container"),
        ("feed.jsonl#1", "ingested"), ("feed.jsonl#2", "ingested"), ("feed.jsonl#3", "ingested")]
    assert rows[1][2] == size  # the container's row as it is now: the next run skips it whole


def test_known_records_are_looked_up_only_for_containers_with_record_rows(tmp_path):
    import pyarrow as pa

    from tasks import schema
    from tasks.formats.known_records import KnownRecords
    from tasks.lake import commit_batch, open_lake

    con = open_lake(tmp_path / "lake")
    try:
        # records of x.jsonl landed without its container row: an ingest interrupted mid-file
        rows = [{"path": path, "sha256": sha, "size": 1, "mtime_ns": 1, "status": "ingested"}
                for path, sha in (("x.jsonl#1", "a"), ("x.jsonl#2", "b"), ("y.jsonl#1", "c"), ("x.txt", "d"))]
        commit_batch(con, {"files": pa.Table.from_pylist(rows, schema.FILES)}, run_id="r", batch=0)
        known = KnownRecords(con, ["x.jsonl", "x.txt", "new.jsonl"])
        assert known("x.jsonl") == {("x.jsonl#1", "a"), ("x.jsonl#2", "b")}
        assert known("new.jsonl") == set() and known("x.txt") == set()
    finally:
        con.close()


def test_old_lake_gains_the_format_columns(tmp_path):
    from tasks.lake import open_lake
    from tests.test_migration import _make_old_lake

    lake_dir = tmp_path / "lake"
    _make_old_lake(lake_dir, {"articles": {"url", "source_domain", "summary_only"}}, set())
    con = open_lake(lake_dir)
    try:
        assert con.execute("SELECT article_id, title, body, url, source_domain, summary_only FROM articles"
                           ).fetchall() == [("old-1", "An old story", "Its body", None, None, None)]
    finally:
        con.close()


def test_seeds_hold_an_example_of_every_format():
    seeds = Path(__file__).parent.parent / "seeds"
    found = set()
    for path in seeds.iterdir():
        with path.open("rb") as handle:
            found.add(detect.detect_format(path.name, handle.read(detect.SNIFF_BYTES)))
    assert {detect.TEXT, detect.HTML, detect.JSON, detect.JSONL, detect.FEED, detect.WARC} <= found
