"""Bytes -> records, per format: the one place that knows which reader a detected format takes.

A file is one record (`number` None: a text file, an HTML page, a JSON object) or a container of
numbered records (JSONL lines, a JSON array's elements, a feed's entries, a WARC's records). A record
carries the bytes that identify it and parses only when asked, so a record the lake already holds
is skipped without being parsed. A whole file that cannot be read as its format raises Rejected
before yielding anything.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from tasks.decode import decode_bytes
from tasks.formats import detect
from tasks.formats.feeds import feed_entries
from tasks.formats.html import article_from_html
from tasks.formats.jsonrecords import (
    article_from_record,
    is_single_document,
    jsonl_lines,
    loads,
    record_digest_bytes,
    records_of_document,
)
from tasks.formats.settings import FormatSettings
from tasks.formats.warc import warc_pages
from tasks.parse import limit_body, parse_document
from tasks.records import Article, Rejected

STREAMED = (detect.JSONL, detect.WARC)  # read record by record from the open file, never whole


@dataclass
class Record:
    number: int | None  # 1-based position in its container; None when the file is the record
    content: bytes  # what identifies the record: its files row's sha256 and size are of these bytes
    parse: Callable[[], Article]  # raises Rejected


def _rejected(reason: str) -> Callable[[], Article]:
    def parse() -> Article:
        raise Rejected(reason)
    return parse


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """A whole gzip file (all its members) decompressed, refusing more than `max_bytes`."""
    out, rest = [], data
    size = 0
    while rest:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            chunk = inflater.decompress(rest, max_bytes + 1 - size)
        except zlib.error as error:
            raise Rejected(f"corrupt gzip ({error})") from None
        size += len(chunk)
        out.append(chunk)
        if size > max_bytes or inflater.unconsumed_tail:
            raise Rejected(f"too large (decompresses to over {max_bytes:,} bytes)")
        if not inflater.eof:
            raise Rejected("truncated gzip (the compressed data ends early)")
        rest = inflater.unused_data
    return b"".join(out)


def whole_file_records(name: str, data: bytes, kind: str, formats: FormatSettings,
                       max_file_bytes: int) -> Iterator[Record]:
    """The records of a file read whole (every format but the streamed ones)."""
    if kind == detect.GZIP:
        data = gunzip(data, max_file_bytes)
        inner_name = name.removesuffix(".gz")
        kind = detect.detect_format(inner_name, data[: detect.SNIFF_BYTES])
        if kind == detect.GZIP:
            raise Rejected("gzip inside gzip")
        if kind in STREAMED:
            yield from stream_records(io.BytesIO(data), kind, False, formats)
            return
    if kind == detect.JSON:
        yield from _json_document_records(data, formats)
    elif kind == detect.FEED:
        for entry in feed_entries(data, is_json=data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")):
            parse = (lambda article=entry.article: article) if entry.article else _rejected(entry.rejection)
            yield Record(entry.number, entry.digest_bytes, parse)
    elif kind == detect.HTML:
        yield Record(None, data, lambda: limit_body(article_from_html(decode_bytes(data)[0])))
    else:
        yield Record(None, data, lambda: parse_document(decode_bytes(data)[0]))


def _json_document_records(data: bytes, formats: FormatSettings) -> Iterator[Record]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Rejected("invalid JSON: not UTF-8") from None
    if not is_single_document(text):  # JSON Lines under a .json name
        yield from stream_records(io.BytesIO(data), detect.JSONL, False, formats)
        return
    value = loads(text)
    records = records_of_document(value)
    if records is None:
        yield Record(None, data, lambda: limit_body(article_from_record(value, formats.json_fields)))
        return
    for number, element in enumerate(records, 1):
        yield Record(number, record_digest_bytes(element),
                     lambda element=element: limit_body(article_from_record(element, formats.json_fields)))


def stream_records(stream: BinaryIO, kind: str, compressed: bool, formats: FormatSettings) -> Iterator[Record]:
    """The records of a JSONL or WARC stream, read one at a time."""
    if kind == detect.JSONL:
        for number, line in jsonl_lines(stream, formats.max_record_bytes):
            if isinstance(line, Rejected):
                yield Record(number, b"", _rejected(line.reason))
            else:
                yield Record(number, line, lambda line=line: _jsonl_article(line, formats))
        return
    for page in warc_pages(stream, compressed, formats.max_record_bytes):
        if page.payload is None:
            yield Record(page.number, b"", _rejected(page.rejection))
        else:
            yield Record(page.number, page.payload, lambda page=page: limit_body(article_from_html(
                decode_bytes(page.payload)[0], url=page.url, fallback_date=page.date, format="warc")))


def _jsonl_article(line: bytes, formats: FormatSettings) -> Article:
    return limit_body(article_from_record(loads(line), formats.json_fields))
