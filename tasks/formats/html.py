"""HTML -> Article: whole pages through trafilatura, fragments (a feed entry's or a JSON record's body)
by their block structure.

A page carries its own metadata (title, author, date, canonical URL), which trafilatura reads; a
fragment is all article, so nothing of it is dropped as boilerplate.
"""

from __future__ import annotations

import re
from datetime import datetime

from tasks.formats.fields import domain_of, parse_datetime
from tasks.records import Article, Rejected

# trafilatura's options for a page, chosen on the HTML benchmark (bench/bench_formats.py; figures in the
# README): precision over recall, so a page's menus, teasers and comments do not pass for the article.
EXTRACTION_OPTIONS = {"favor_precision": True, "include_comments": False, "include_images": False,
                      "include_tables": True}
# Dates the page states (meta tags, time elements, structured data), never a year guessed from its text.
_DATE_OPTIONS = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_HTML_TAG = re.compile(r"</?(?:p|br|div|h[1-6]|li|ul|ol|blockquote|span|a|b|i|strong|em|figure|img|section)\b[^>]*>",
                       re.IGNORECASE)
_BLOCK_TAGS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "figure", "figcaption",
               "section", "article", "pre", "table", "tr", "ul", "ol")
_NOT_TEXT_TAGS = ("script", "style", "noscript", "template", "iframe", "object")


def looks_like_html(text: str) -> bool:
    """Whether a record's text field holds markup rather than plain text."""
    return _HTML_TAG.search(text) is not None


def _clean_line(line: str) -> str:
    return " ".join(line.split())


def article_from_html(html: str | bytes, *, url: str | None = None, fallback_date: datetime | None = None,
                      format: str = "html") -> Article:
    """A whole page -> Article. `url` is the address it was fetched from (it wins over the page's own
    canonical link, which is used otherwise); `fallback_date` is used when the page states none."""
    import trafilatura  # heavy import, paid only by runs that meet HTML

    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, date_extraction_params=_DATE_OPTIONS,
                                           **EXTRACTION_OPTIONS)
    if document is None:
        raise Rejected("html page with no article text")
    title = _clean_line(document.title or "") or None
    paragraphs = [_clean_line(line) for line in (document.text or "").splitlines() if line.strip()]
    if paragraphs and paragraphs[0] == title:  # the page's <h1> repeats the title
        del paragraphs[0]
    if not paragraphs:
        raise Rejected("html page with no article text")
    page_url = url or document.url
    domain = domain_of(page_url)
    authors = [name for name in (_clean_line(a) for a in (document.author or "").split(";")) if name]
    sitename = _clean_line(document.sitename or "")
    return Article(
        body="\n\n".join(paragraphs), format=format, title=title, authors=authors,
        # trafilatura falls back to the host name: that is `source_domain`, not the outlet's name
        outlet=sitename if sitename and domain_of(f"//{sitename}") != domain else None,
        published_at=parse_datetime(document.date) or fallback_date,
        url=page_url, source_domain=domain,
    )


def article_from_html_fragment(html: str, *, format: str) -> Article:
    """Article markup without a page around it -> Article with one paragraph per block."""
    paragraphs = fragment_paragraphs(html)
    if not paragraphs:
        raise Rejected("no body")
    return Article(body="\n\n".join(paragraphs), format=format)


def fragment_paragraphs(html: str) -> list[str]:
    """The text of an HTML fragment, one entry per block element (and per <br>-separated line)."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return [line for line in (_clean_line(part) for part in html.splitlines()) if line]
    for element in list(root.iter(*_NOT_TEXT_TAGS)):
        element.drop_tree()
    for element in root.iter("br"):
        element.tail = "\n" + (element.tail or "")
    for element in root.iter(*_BLOCK_TAGS):
        element.text = "\n" + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    return [line for line in (_clean_line(part) for part in root.text_content().split("\n")) if line]
