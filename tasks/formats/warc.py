"""WARC (`.warc`, `.warc.gz`) -> the HTML pages it archived, streamed record by record with warcio.

Only HTTP `response` records with an HTML payload become articles; every other record is counted
(records are numbered by their 1-based index among all of the WARC's records) and skipped without a
row. A payload is read up to the record limit, so no record, and never the archive, is held whole.
A broken record is reported as one rejected record, and reading resumes at the next record header
(uncompressed) or gzip member (`.warc.gz`) after it: the records around it still land.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from tasks.formats.detect import GZIP_MAGIC, gunzip_head
from tasks.formats.fields import parse_datetime

_SCAN_CHUNK = 1 << 20
_UNCOMPRESSED_HEADER = b"WARC/1."
_RECORD_TYPES = {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"}
_TRUNCATED = "truncated WARC record (shorter than its Content-Length)"
_TRUNCATED_GZIP = "truncated gzip (the last record's compressed data ends early)"


class _BrokenRecord(Exception):
    """A record warcio reads without complaint but that cannot be right."""


@dataclass
class WarcPage:
    number: int  # 1-based index among the WARC's records
    url: str | None = None  # WARC-Target-URI
    date: datetime | None = None  # WARC-Date
    payload: bytes | None = None  # the HTTP body
    rejection: str | None = None


def warc_pages(stream: BinaryIO, compressed: bool, max_record_bytes: int) -> Iterator[WarcPage]:
    """The HTML responses of a WARC stream (seekable), and one rejection per broken stretch."""
    from warcio.archiveiterator import ArchiveIterator

    truncated = _TRUNCATED_GZIP if compressed else _TRUNCATED
    number = 0
    start = 0  # where the current pass over the stream began
    broken: str | None = None  # why the stretch before the next good record failed
    while True:
        stream.seek(start)
        records = ArchiveIterator(stream, check_digests=False)
        last_good = None
        try:
            for record in records:
                last_good = records.offset  # where this record starts (warcio keeps absolute offsets)
                if record.rec_headers.get_header("Content-Length") is None:
                    # warcio would read such a record to the end of the file, swallowing every record after it
                    raise _BrokenRecord("broken WARC record (no Content-Length header)")
                if broken is not None:
                    number += 1
                    yield WarcPage(number, rejection=broken)
                    broken = None
                number += 1
                page = _page(record, number, max_record_bytes, truncated)
                if page is not None:
                    yield page
            stream.seek(records.offset)
            if stream.read(1):  # warcio ends quietly at a last gzip member that is cut off
                broken = truncated if compressed else "broken WARC record (unreadable data at the end)"
            break
        # warcio meets malformed input with whatever error its code runs into (ArchiveLoadFailed, zlib.error,
        # an AttributeError on a header cut short): any of them is this stretch of the file being broken.
        except Exception as error:
            broken = _reason(error)
            scan_from = (last_good if last_good is not None else start) + 1
            start = _next_record_start(stream, scan_from, compressed)
            if start is None:
                break
    if broken is not None:
        yield WarcPage(number + 1, rejection=broken)


def _reason(error: BaseException) -> str:
    from warcio.exceptions import ArchiveLoadFailed
    from warcio.statusandheaders import StatusAndHeadersParserException

    if isinstance(error, _BrokenRecord):
        return str(error)
    if isinstance(error, ArchiveLoadFailed):
        return "broken WARC record (no valid record header where one should start)"
    if isinstance(error, StatusAndHeadersParserException):
        return "broken WARC record (unreadable headers)"
    if isinstance(error, (zlib.error, EOFError)):
        return "broken WARC record (corrupt or truncated gzip)"
    return f"broken WARC record ({type(error).__name__})"


def _page(record, number: int, max_record_bytes: int, truncated: str) -> WarcPage | None:
    url = record.rec_headers.get_header("WARC-Target-URI")
    date = parse_datetime(record.rec_headers.get_header("WARC-Date"))
    if record.rec_type not in _RECORD_TYPES:
        return WarcPage(number, url, date, rejection="broken WARC record (unknown WARC-Type)")
    content_type = (record.http_headers.get_header("Content-Type") or "") if record.http_headers else ""
    if record.rec_type != "response" or "html" not in content_type.lower():
        while record.raw_stream.read(_SCAN_CHUNK):  # skipped unread, but a cut-off record must still be told
            pass
        return WarcPage(number, url, date, rejection=truncated) if _is_truncated(record) else None
    payload = record.content_stream().read(max_record_bytes + 1)
    if len(payload) > max_record_bytes:
        return WarcPage(number, url, date, rejection=f"too large (payload over the {max_record_bytes:,}-byte "
                                                      "record limit)")
    if _is_truncated(record):
        return WarcPage(number, url, date, rejection=truncated)
    return WarcPage(number, url, date, payload=payload)


def _is_truncated(record) -> bool:
    """Whether the stream ended before the record's Content-Length (warcio's LimitReader keeps
    the count of declared bytes not yet read)."""
    return getattr(record.raw_stream, "limit", 0) > 0


def _next_record_start(stream: BinaryIO, offset: int, compressed: bool) -> int | None:
    """The offset of the first record at or after `offset`: a gzip member that opens with a WARC
    header, or an uncompressed header at the start of a line."""
    marker = GZIP_MAGIC + b"\x08" if compressed else b"\n" + _UNCOMPRESSED_HEADER
    position = offset - (0 if compressed else 1)
    while True:
        stream.seek(position)
        chunk = stream.read(_SCAN_CHUNK + 64)
        found = chunk.find(marker)
        while found != -1:
            start = position + found + (0 if compressed else 1)
            if not compressed:
                return start
            stream.seek(start)
            if gunzip_head(stream.read(512)).startswith(b"WARC/"):
                return start
            found = chunk.find(marker, found + 1)
        if len(chunk) <= _SCAN_CHUNK:
            return None
        position += _SCAN_CHUNK
