"""The records that move through the pipeline, from a raw file to rows for the lake.

Plain dataclasses: every stage takes some of these and returns others, so each stage can be
tested on its own without Prefect, DuckDB or spaCy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class Rejected(Exception):
    """A file that cannot become an article. `reason` is short, specific and meant for people
    (it lands in `files.reason`): "empty", "binary", "no body", "too large (63 MB > 20 MB limit)"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FileRef:
    """A file found in the inbox. `path` is relative to the inbox, with forward slashes."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class Article:
    """One parsed article. Fields a layout does not carry are None, never invented."""

    body: str
    format: str  # which path produced it: "newser", "plain", "html", "json", "feed", "warc"
    title: str | None = None
    dek: str | None = None
    alt_title: str | None = None
    authors: list[str] = field(default_factory=list)
    outlet: str | None = None
    published_at: datetime | None = None  # timezone-aware, UTC
    image_caption: str | None = None
    image_credit: str | None = None
    topic: str | None = None
    url: str | None = None  # where the article was published (canonical link, record URL)
    source_domain: str | None = None  # host of `url`, or the domain the record names
    summary_only: bool = False  # a feed entry that carried only its summary: the body is that summary


@dataclass(frozen=True)
class Entity:
    """One entity mention; offsets index into the article body."""

    text: str
    name: str  # canonical form within the article ("Putin" -> "Vladimir Putin")
    label: str  # spaCy label
    start_char: int
    end_char: int


@dataclass(frozen=True)
class Quote:
    """One direct quote; offsets index into the article body (a quote split by its attribution
    spans the attribution too)."""

    quote: str  # the quoted words, without the marks
    speaker: str | None  # canonical name, as in Entity.name; None when the article does not tell
    speaker_label: str | None  # spaCy label of the speaker (PERSON, ORG, ...)
    cue: str | None  # the speech verb or phrase ("said", "according to"); None for a quote that
    # carries on the previous speaker's words
    start_char: int
    end_char: int


@dataclass
class Enrichment:
    """What NLP adds to one article body."""

    entities: list[Entity]
    sources: list[str]  # outlets the article cites, canonical names ("Washington Post")
    word_count: int
    language: str | None  # ISO 639-1 code, None when the text is too short to tell
    quotes: list[Quote] = field(default_factory=list)  # direct quotes with their speakers (tasks.quotes)
