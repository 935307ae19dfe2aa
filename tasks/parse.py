"""Text -> Article, choosing the layout by the shape of the text.

Three layouts: Newser's text export (headline, dek, byline, Posted line, photo, body), an HTML
page saved as text (handed to trafilatura), and plain text (headline line, then paragraphs).
Every file goes through here, so detection looks only at the first lines, regexes are compiled
once, and trafilatura is imported only when a file is HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from dateutil import parser as date_parser
from dateutil import tz

from tasks.records import Article, Rejected

# A first line longer than this is a paragraph, not a headline.
_MAX_TITLE_CHARS = 300
# A body longer than any news article (~35,000 words) is a dump, a book or a log, not a story;
# NER on it would also need gigabytes of memory (and spaCy refuses texts over 1,000,000 chars).
MAX_BODY_CHARS = 200_000

# --- HTML detection -------------------------------------------------------------------------
_HTML_SNIFF_CHARS = 20_000
_HTML_DOCUMENT_STARTS = ("<!doctype html", "<html")
_HTML_BLOCK_CLOSING_TAG = re.compile(
    r"</(?:html|head|body|title|p|div|article|section|main|header|footer|nav|aside"
    r"|h[1-6]|ul|ol|li|table|tr|td|blockquote|figure|script|style)\s*>",
    re.IGNORECASE,
)
_MIN_HTML_BLOCK_TAGS = 3

# --- Newser layout --------------------------------------------------------------------------
# The byline must sit within the first few non-blank lines (headline, dek, byline).
_NEWSER_BYLINE_WINDOW = 6
# The Posted line sits right next to the byline.
_NEWSER_POSTED_DISTANCE = 2
_QUOTE_CHARS = "'\"‘’“”"
_BYLINE_SEPARATOR = re.compile(r",|&| and ")
# Byline parts that name the outlet or a desk, not a person.
_NOT_A_PERSON = re.compile(r"\b(?:Newser|Staff|Editors?|Wire Services?|Associated Press)\b", re.I)
_POSTED_LINE = re.compile(
    r"Posted\s+(?P<when>.*?\b\d{4}\b.*?)\s+(?P<zone>[A-Za-z]{1,5})(?:\s*[|•·,;]?\s*Updated\b.*)?"
)
_PHOTO_CREDIT = re.compile(r"(?P<caption>.*?)\s*\((?P<credit>[^()]+)\)")
# What a photo credit says, to tell "(AP Photo/Evan Vucci)" from "(left)".
_CREDIT_WORDS = re.compile(
    r"/|\b(?:Photo|Photos|Images?|Getty|AP|Reuters|AFP|Shutterstock|Wikimedia|Commons"
    r"|File|Pool|Courtesy|via|Handout)\b"
)
# A caption line is longer than a headline but still far shorter than a typical body paragraph;
# a longer line after the Posted line means the body started without a blank line.
_MAX_PHOTO_LINE_CHARS = 600
# A line after the Posted line restates the headline (so it is the alternate headline, never a
# caption) when it holds this share of the headline's words and at most this many more words.
_RESTATED_SHARE = 0.8
_RESTATED_EXTRA_WORDS = 3
_TOPIC_MARKER = re.compile(r"\s*\(More (?P<topic>[^()]+?) stories\.?\)\s*$")
# Newser's "install our app" footer, matched line by line because it may be partly present.
_APP_BOILERPLATE_LINE = re.compile(
    r"get the news faster\.?"
    r"|tap to install our app\.?"
    r"|install the newser news app"
    r"|in two easy steps:?"
    r"|1\.\s*tap\b.*\bnavigation bar\.?"
    r"|2\.\s*tap to add to home screen\.?",
    re.IGNORECASE,
)

# US zone abbreviations as Newser prints them. The bare ET/CT/MT/PT carry no daylight-saving
# flag, so they resolve through the region's rules for that date.
_TZ_OFFSET_HOURS = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "UTC": 0, "GMT": 0,
}  # fmt: skip
_TZ_REGIONS = {
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}  # fmt: skip
_TIME_ZONES: dict[str, tzinfo] = {
    **{name: timezone(timedelta(hours=hours)) for name, hours in _TZ_OFFSET_HOURS.items()},
    **{name: tz.gettz(region) for name, region in _TZ_REGIONS.items()},
}


def parse_document(text: str) -> Article:
    """Parse decoded text into an Article; raise Rejected when it holds no article body."""
    return limit_body(_parse_layout(text))


def limit_body(article: Article) -> Article:
    """`article`, unless its body is too long to be one (raises Rejected)."""
    if len(article.body) > MAX_BODY_CHARS:
        raise Rejected(f"too long for an article ({len(article.body):,} characters > {MAX_BODY_CHARS:,} limit)")
    return article


def _parse_layout(text: str) -> Article:
    if _looks_like_html_document(text):
        return _parse_html(text)
    lines = text.splitlines()
    newser_header = _find_newser_header(lines)
    if newser_header is not None:
        return _parse_newser(lines, *newser_header)
    return _parse_plain(lines)


# --- HTML -------------------------------------------------------------------------------------


def _looks_like_html_document(text: str) -> bool:
    head = text[:_HTML_SNIFF_CHARS]
    if head.lstrip()[:14].lower().startswith(_HTML_DOCUMENT_STARTS):
        return True
    return "</" in head and len(_HTML_BLOCK_CLOSING_TAG.findall(head)) >= _MIN_HTML_BLOCK_TAGS


def _parse_html(text: str) -> Article:
    from tasks.formats.html import article_from_html

    return article_from_html(text)


# --- Newser -----------------------------------------------------------------------------------


def _find_newser_header(lines: Sequence[str]) -> tuple[int, int] | None:
    """Return (byline index, Posted line index) when the text has Newser's header shape."""
    nonblank_indexes: list[int] = []
    for index, line in enumerate(lines):
        if line.strip():
            nonblank_indexes.append(index)
            if len(nonblank_indexes) == _NEWSER_BYLINE_WINDOW + _NEWSER_POSTED_DISTANCE:
                break
    for position, byline_index in enumerate(nonblank_indexes[:_NEWSER_BYLINE_WINDOW]):
        byline = lines[byline_index].strip()
        if not (byline.startswith("By ") and "Newser" in byline):
            continue
        nearby = nonblank_indexes[
            max(0, position - _NEWSER_POSTED_DISTANCE) : position + _NEWSER_POSTED_DISTANCE + 1
        ]
        for posted_index in nearby:
            if lines[posted_index].strip().startswith("Posted "):
                return byline_index, posted_index
    return None


def _parse_newser(lines: Sequence[str], byline_index: int, posted_index: int) -> Article:
    header_start = min(byline_index, posted_index)
    header_end = max(byline_index, posted_index) + 1

    # Before the byline: the headline, then the dek (a quoted line).
    lead = [_clean_line(line) for line in lines[:header_start] if line.strip()]
    title = lead[0] if lead else None
    dek = _strip_outer_quotes(" ".join(lead[1:])) or None

    authors = _parse_byline_authors(lines[byline_index])
    published_at = _parse_posted_line(_clean_line(lines[posted_index]))

    # After the Posted (and any Updated) line, up to the first blank line: the alt headline
    # and the photo caption.
    photo_start = header_end
    while photo_start < len(lines) and lines[photo_start].strip().startswith("Updated "):
        photo_start += 1
    photo_end = photo_start
    while (
        photo_end < len(lines)
        and lines[photo_end].strip()
        and len(lines[photo_end]) <= _MAX_PHOTO_LINE_CHARS
    ):
        photo_end += 1
    alt_title, image_caption, image_credit = _parse_photo_block(lines[photo_start:photo_end], title)

    body_lines = [line for line in lines[photo_end:] if not _is_app_boilerplate(line)]
    paragraphs = _paragraphs(body_lines)
    topic = _pop_topic_marker(paragraphs)
    if not paragraphs:
        raise Rejected("no body")
    return Article(
        body="\n\n".join(paragraphs),
        format="newser",
        title=title,
        dek=dek,
        alt_title=alt_title,
        authors=authors,
        outlet="Newser",
        published_at=published_at,
        image_caption=image_caption,
        image_credit=image_credit,
        topic=topic,
    )


def _parse_byline_authors(byline: str) -> list[str]:
    """ "By A and B, Newser Staff" -> ["A", "B"]; "By Newser Editors" -> [] (not a person)."""
    names = _clean_line(byline).removeprefix("By ")
    parts = (part.strip() for part in _BYLINE_SEPARATOR.split(names))
    return [part for part in parts if part and not _NOT_A_PERSON.search(part)]


def _parse_posted_line(line: str) -> datetime | None:
    """ "Posted Mar 24, 2022 6:59 AM CDT" -> 2022-03-24 11:59 UTC. None when the line lacks a
    year or a known zone: a time is not placed on the timeline by guesswork."""
    match = _POSTED_LINE.fullmatch(line)
    if match is None:
        return None
    zone = _TIME_ZONES.get(match["zone"].upper())
    if zone is None:
        return None
    try:
        posted = date_parser.parse(match["when"], ignoretz=True)
    except (ValueError, OverflowError):
        return None
    return posted.replace(tzinfo=zone).astimezone(UTC)


def _parse_photo_block(
    block: Sequence[str], headline: str | None
) -> tuple[str | None, str | None, str | None]:
    """Return (alt_title, image_caption, image_credit) from the lines between the Posted line
    and the body: an alternate headline, then a caption ending in a parenthesized credit. A page
    without a photo has the alternate headline alone."""
    if not block:
        return None, None, None
    if _restates_headline(_clean_line(block[0]), headline):
        caption, credit = _caption_and_credit(block[1:])
        return _clean_line(block[0]), caption, credit
    for index, line in enumerate(block):
        caption, credit = _split_photo_credit(line)
        if credit is not None:
            return (_clean_line(block[0]) or None) if index else None, caption, credit
    if len(block) == 1:
        # One line with no credit: Newser headlines are Title Case, captions are sentences.
        line = _clean_line(block[0])
        return (line, None, None) if _is_title_case(line) else (None, line, None)
    return _clean_line(block[0]) or None, _clean_line(block[1]) or None, None


def _caption_and_credit(lines: Sequence[str]) -> tuple[str | None, str | None]:
    """The first caption with a credit among `lines`, else the first line as a caption without one."""
    for line in lines:
        caption, credit = _split_photo_credit(line)
        if credit is not None:
            return caption, credit
    return (_clean_line(lines[0]) or None, None) if lines else (None, None)


def _words(line: str) -> list[str]:
    return re.findall(r"\w+(?:'\w+)?", line.casefold())


def _restates_headline(line: str, headline: str | None) -> bool:
    """An alternate headline repeats the headline, give or take a few words; a caption
    describes the photo in a sentence of its own."""
    if not headline:
        return False
    headline_words, line_words = _words(headline), _words(line)
    found = sum(word in line_words for word in set(headline_words))
    return (bool(headline_words) and found >= _RESTATED_SHARE * len(set(headline_words))
            and len(line_words) <= len(headline_words) + _RESTATED_EXTRA_WORDS)


def _is_title_case(line: str) -> bool:
    words = [word for word in line.split() if len(word) > 3 and word[0].isalpha()]
    return bool(words) and sum(word[0].isupper() for word in words) >= 0.8 * len(words)


def _split_photo_credit(raw_caption: str) -> tuple[str | None, str | None]:
    caption = _clean_line(raw_caption)
    match = _PHOTO_CREDIT.fullmatch(caption)
    # Newser pads the credit with non-breaking spaces; otherwise judge by its words.
    if match is not None and ("\xa0" in raw_caption or _CREDIT_WORDS.search(match["credit"])):
        return match["caption"] or None, match["credit"].strip()
    return caption or None, None


def _pop_topic_marker(paragraphs: list[str]) -> str | None:
    """Remove the "(More X stories.)" marker ending the body and return X."""
    for index in range(len(paragraphs) - 1, -1, -1):
        if not paragraphs[index].endswith(")"):
            continue
        match = _TOPIC_MARKER.search(paragraphs[index])
        if match is not None:
            remaining = paragraphs[index][: match.start()].rstrip()
            if remaining:
                paragraphs[index] = remaining
            else:
                del paragraphs[index]
            return match["topic"].strip()
    return None


def _is_app_boilerplate(line: str) -> bool:
    stripped = line.strip()
    return (
        bool(stripped) and _APP_BOILERPLATE_LINE.fullmatch(" ".join(stripped.split())) is not None
    )


def _strip_outer_quotes(line: str) -> str:
    if len(line) >= 2 and line[0] in _QUOTE_CHARS and line[-1] in _QUOTE_CHARS:
        return line[1:-1].strip()
    return line


# --- Plain text -------------------------------------------------------------------------------


def _parse_plain(lines: Sequence[str]) -> Article:
    """First non-blank line is the headline (unless it is too long to be one); the rest is body."""
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise Rejected("no body")
    if len(lines[first].strip()) > _MAX_TITLE_CHARS:
        title, body_start = None, first
    else:
        title, body_start = _clean_line(lines[first]), first + 1
    paragraphs = _paragraphs(lines[body_start:])
    if not paragraphs:
        raise Rejected("no body")
    return Article(body="\n\n".join(paragraphs), format="plain", title=title)


# --- Shared helpers ---------------------------------------------------------------------------


def _paragraphs(lines: Sequence[str]) -> list[str]:
    """Group lines into paragraphs at blank lines; trailing whitespace is dropped."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        line = line.rstrip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _clean_line(line: str) -> str:
    """Collapse every run of whitespace, non-breaking spaces included, to one space."""
    return " ".join(line.split())
