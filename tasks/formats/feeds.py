"""Feeds (RSS 0.9x-2.0, RSS 1.0, Atom, JSON Feed) -> one Article per entry: XML feeds through
feedparser, JSON Feed (which feedparser does not read) from its JSON.

An XML feed is first parsed by defusedxml, which refuses entity declarations: a feed shaped like an
XML bomb is rejected before anything could expand it. The full content of an entry
(`content:encoded`, Atom `content`, JSON Feed `content_html`/`content_text`) is its body; an entry
with only a summary gets the summary as body, marked `summary_only`, since nothing is fetched.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from tasks.formats.fields import domain_of, parse_datetime
from tasks.formats.html import article_from_html_fragment, fragment_paragraphs, looks_like_html
from tasks.records import Article, Rejected


@dataclass
class FeedEntry:
    number: int  # 1-based position in the feed
    digest_bytes: bytes  # what identifies the entry's content (its files row's sha256 is over these)
    article: Article | None = None
    rejection: str | None = None


def refuse_xml_entities(data: bytes) -> None:
    """Raise Rejected if an XML document declares entities (an XML bomb, or external ones)."""
    import defusedxml.ElementTree
    from defusedxml import DefusedXmlException

    try:
        defusedxml.ElementTree.fromstring(data)
    except DefusedXmlException as refused:
        raise Rejected(f"XML entity declarations refused ({type(refused).__name__}: possible XML bomb)") from None
    except defusedxml.ElementTree.ParseError:
        # Malformed XML goes to feedparser's lenient parser, which must not meet a declaration either.
        if b"<!ENTITY" in data:
            raise Rejected("XML entity declarations refused (malformed feed declaring entities)") from None


def feed_entries(data: bytes, is_json: bool) -> list[FeedEntry]:
    """Every entry of a feed, in order. Raises Rejected when the file is not a readable feed."""
    if is_json:
        return _json_feed_entries(data)
    import feedparser

    refuse_xml_entities(data)
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    if not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise Rejected(f"feed with no entries ({type(problem).__name__}: {problem})" if problem else
                       "feed with no entries")
    outlet = " ".join((parsed.feed.get("title") or "").split()) or None
    return _entries(parsed.entries, outlet, _xml_entry_article)


def _entries(items: list, outlet: str | None, to_article) -> list[FeedEntry]:
    entries = []
    for number, item in enumerate(items, 1):
        digest = json.dumps(item, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8")
        try:
            entries.append(FeedEntry(number, digest, article=to_article(item, outlet)))
        except Rejected as rejected:
            entries.append(FeedEntry(number, digest, rejection=rejected.reason))
    return entries


def _json_feed_entries(data: bytes) -> list[FeedEntry]:
    from tasks.formats.jsonrecords import loads

    feed = loads(data)
    items = feed.get("items") if isinstance(feed, dict) else None
    if not isinstance(items, list) or not items:
        raise Rejected("feed with no entries (JSON Feed without items)")
    outlet = " ".join(str(feed.get("title") or "").split()) or None
    return _entries(items, outlet, _json_item_article)


def _json_item_article(item: object, outlet: str | None) -> Article:
    if not isinstance(item, dict):
        raise Rejected(f"feed entry is not an object ({type(item).__name__})")
    if item.get("content_html") or item.get("content_text"):
        content, summary_only = item.get("content_html") or item["content_text"], False
    elif item.get("summary"):
        content, summary_only = item["summary"], True
    else:
        raise Rejected("feed entry with no content or summary")
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    return _article(str(content), item.get("title"), [str(a.get("name")) for a in authors
                                                      if isinstance(a, dict) and a.get("name")],
                    parse_datetime(item.get("date_published") or item.get("date_modified")),
                    item.get("url") or item.get("external_url"), outlet, summary_only)


def _xml_entry_article(entry, outlet: str | None) -> Article:
    content = next((c for c in entry.get("content", []) if (c.get("value") or "").strip()), None)
    summary_only = content is None
    if summary_only:
        summary = (entry.get("summary") or "").strip()
        if not summary:
            raise Rejected("feed entry with no content or summary")
        content = {"value": summary, "type": entry.get("summary_detail", {}).get("type", "text/html")}
    authors = [a["name"] for a in entry.get("authors", []) if a.get("name")] or \
        ([entry["author"]] if entry.get("author") else [])
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    published_at = datetime.fromtimestamp(calendar.timegm(moment), UTC) if moment else None
    return _article(content["value"], entry.get("title"), authors, published_at, entry.get("link"), outlet,
                    summary_only)


def _article(content: str, title: str | None, authors: list[str], published_at: datetime | None,
             url: str | None, outlet: str | None, summary_only: bool) -> Article:
    if looks_like_html(content):
        article = article_from_html_fragment(content, format="feed")
    else:
        paragraphs = [" ".join(p.split()) for p in content.split("\n\n") if p.strip()]
        if not paragraphs:
            raise Rejected("no body")
        article = Article(body="\n\n".join(paragraphs), format="feed")
    if title and looks_like_html(title):
        title = " ".join(fragment_paragraphs(title))
    article.title = " ".join(title.split()) if title else None
    article.authors = authors
    article.published_at = published_at
    article.url = url
    article.source_domain = domain_of(url)
    article.outlet = outlet
    article.summary_only = summary_only
    return article
