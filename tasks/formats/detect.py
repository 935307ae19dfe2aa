"""Which format a file holds, from its content first and its name second.

The content decides whenever it can (a WARC saved as `.html`, HTML saved as `.jsonl` or a feed saved
as `.txt` are read as what they are); the name only settles what content cannot: whether a file of
JSON objects is one document or one object per line, and whether markup with no <html> element is a
page.
"""

from __future__ import annotations

import re
import zlib

# Formats of a whole file. "text" is the one-article text path (newser, plain, HTML saved as text).
WARC, GZIP, JSON, JSONL, FEED, HTML, TEXT = "warc", "gzip", "json", "jsonl", "feed", "html", "text"

SNIFF_BYTES = 4096
GZIP_MAGIC = b"\x1f\x8b"
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_UTF8_BOM = b"\xef\xbb\xbf"
# Before the root element of an XML document: the declaration, comments, processing instructions
# and a DOCTYPE (whose internal subset may hold entity declarations: still a feed, read safely).
_XML_PROLOGUE = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)*", re.S | re.I)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF|RDF)[\s>/]", re.I)
_HTML_ROOT = re.compile(rb"<(?:!doctype\s+html|html)[\s>]", re.I)
_JSON_FEED_VERSION = re.compile(rb'"version"\s*:\s*"https?://jsonfeed\.org/version/')


def gunzip_head(head: bytes) -> bytes:
    """The first bytes of a gzip stream, as far as `head` reaches (b"" when it is not gzip)."""
    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, SNIFF_BYTES)
    except zlib.error:
        return b""


def detect_format(name: str, head: bytes) -> str:
    """The format of a file called `name` whose first bytes are `head` (up to SNIFF_BYTES)."""
    if head.startswith(GZIP_MAGIC):
        return WARC if gunzip_head(head).startswith(b"WARC/") else GZIP
    content = head.removeprefix(_UTF8_BOM).lstrip()
    if content.startswith(b"WARC/"):
        return WARC
    if content.startswith((b"{", b"[")):
        if name.lower().endswith(_JSONL_SUFFIXES):
            return JSONL
        if content.startswith(b"{") and _JSON_FEED_VERSION.search(content):
            return FEED
        return JSON
    if content.startswith(b"<"):
        prologue_end = _XML_PROLOGUE.match(content).end()
        if _FEED_ROOT.match(content, prologue_end):
            return FEED
        if _HTML_ROOT.match(content, prologue_end) or name.lower().endswith(_HTML_SUFFIXES):
            return HTML  # markup under an HTML name is a page even without its <html> (a saved fragment)
    return TEXT
