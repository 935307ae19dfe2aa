"""JSON and JSONL records -> Articles: news-please's schema, NewsAPI's, or a mapping from the settings.

A `.json` file is one record, an array of records, or a NewsAPI response (`{"articles": [...]}`); a
`.jsonl`/`.ndjson` file is one record per line, read line by line with a bounded read, so a line of
any size costs at most the record limit in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from tasks.formats.fields import domain_of, parse_datetime
from tasks.formats.html import article_from_html_fragment, looks_like_html
from tasks.formats.settings import JsonFields
from tasks.records import Article, Rejected

NEWS_PLEASE = JsonFields(body="maintext", title="title", dek="description", authors="authors",
                         published_at="date_publish", url="url", source_domain="source_domain")
NEWSAPI = JsonFields(body="content", title="title", dek="description", authors="author",
                     published_at="publishedAt", url="url", outlet="source.name")
# NewsAPI cuts `content` and says how much is missing: "... [+2345 chars]".
_NEWSAPI_CUT_MARKER = re.compile(r"\s*…?\s*\[\+\d+ chars\]\s*$")
_AUTHOR_SEPARATOR = re.compile(r"\s*(?:,|;|&|\band\b)\s*")
_READ_CHUNK = 1 << 20


def loads(raw: bytes | str) -> object:
    """JSON text -> a Python value; raises Rejected with what is wrong."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise Rejected("invalid JSON: not UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise Rejected(f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:  # the decoder recurses once per level: hostile nesting ends here
        raise Rejected("invalid JSON: nested too deeply") from None


def is_single_document(text: str) -> bool:
    """Whether `text` holds one JSON value (else it is JSON Lines saved under another name)."""
    try:
        _, end = json.JSONDecoder().raw_decode(text.lstrip())
    except (json.JSONDecodeError, RecursionError):
        return True  # not valid as a sequence either: read as one document, which reports the error
    return not text.lstrip()[end:].strip()


def records_of_document(value: object) -> list[object] | None:
    """The records of a parsed `.json` document: None when it is one record itself."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("articles"), list):  # a NewsAPI response
        return value["articles"]
    return None


def record_digest_bytes(value: object) -> bytes:
    """Bytes that identify a parsed record's content (its files row's sha256 is over these)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def jsonl_lines(stream: BinaryIO, max_record_bytes: int) -> Iterator[tuple[int, bytes | Rejected]]:
    """(line number, line bytes or Rejected) for every non-blank line of a JSON Lines stream."""
    number = 0
    while line := stream.readline(max_record_bytes + 1):
        number += 1
        if len(line) > max_record_bytes and not line.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield number, Rejected(f"too large (line over the {max_record_bytes:,}-byte record limit)")
        elif line.strip():
            yield number, line


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while chunk := stream.readline(_READ_CHUNK):
        if chunk.endswith(b"\n"):
            return


def article_from_record(value: object, fields: JsonFields | None) -> Article:
    """A parsed JSON record -> Article, by the first schema whose body field it has."""
    if not isinstance(value, dict):
        raise Rejected(f"JSON record is not an object ({type(value).__name__})")
    for schema in (fields, NEWS_PLEASE, NEWSAPI):
        if schema is not None and _field(value, schema.body) is not None:
            return _article(value, schema)
    raise Rejected("JSON record with no article body (neither news-please's nor NewsAPI's schema; "
                   "set a json_fields mapping)")


def _field(record: dict, path: str | None) -> object:
    if path is None:
        return None
    value: object = record
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if value not in ("", [], {}) else None


def _text(record: dict, path: str | None) -> str | None:
    value = _field(record, path)
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _article(record: dict, fields: JsonFields) -> Article:
    body = str(_field(record, fields.body))
    if fields is NEWSAPI:
        body = _NEWSAPI_CUT_MARKER.sub("", body)
    url = _text(record, fields.url)
    if looks_like_html(body):
        article = article_from_html_fragment(body, format="json")
    else:
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", body) if p.strip()]
        if not paragraphs:
            raise Rejected("no body")
        article = Article(body="\n\n".join(paragraphs), format="json")
    article.title = _text(record, fields.title) or article.title
    article.dek = _text(record, fields.dek)
    article.authors = _authors(_field(record, fields.authors))
    article.outlet = _text(record, fields.outlet)
    article.published_at = parse_datetime(_field(record, fields.published_at))
    article.url = url
    article.source_domain = _text(record, fields.source_domain) or domain_of(url)
    return article


def _authors(value: object) -> list[str]:
    if isinstance(value, list):
        names = [" ".join(str(name).split()) for name in value]
    elif isinstance(value, str):
        names = _AUTHOR_SEPARATOR.split(value.strip())
    else:
        return []
    return [name for name in names if name]
