"""Builders of format test inputs from real stories: the same article as an HTML page, a news-please
record, a feed entry, a WARC record (written with warcio)."""

from __future__ import annotations

import html
import io


def story_parts(text: str) -> tuple[str, list[str]]:
    """(title, paragraphs) of a plain-layout story."""
    title, *rest = [block.strip() for block in text.split("\n\n") if block.strip()]
    return title, rest


def html_page(title: str, paragraphs: list[str], *, url: str = "https://news.example.com/story",
              author: str = "Jane Reporter", date: str = "2024-03-05T10:20:00+00:00") -> str:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} - Example News</title>
<link rel="canonical" href="{url}">
<meta property="og:url" content="{url}">
<meta name="author" content="{author}">
<meta property="article:published_time" content="{date}">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>{html.escape(title)}</h1>
{body}
</article>
<footer><p>Copyright Example News. All rights reserved.</p></footer>
</body></html>"""


def news_please_record(title: str, paragraphs: list[str], **extra) -> dict:
    return {"title": title, "maintext": "\n".join(paragraphs), "description": paragraphs[0][:80],
            "date_publish": "2024-03-05 10:20:00", "authors": ["Jane Reporter"],
            "url": "https://www.example.org/news/1", "source_domain": "example.org", "language": "en",
            "image_url": None, **extra}


def warc_bytes(pages: list[tuple[str, bytes]], *, gzip: bool, with_request: bool = True) -> bytes:
    """A WARC holding, per (url, html) page, a request record and a response record."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzip)
    for url, payload in pages:
        if with_request:
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.com")], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", http_headers=request))
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers,
                                           warc_headers_dict={"WARC-Date": "2024-03-06T08:00:00Z"})
        writer.write_record(record)
    return out.getvalue()


def rss(items: list[dict], *, extra_prolog: str = "") -> bytes:
    entries = []
    for item in items:
        parts = [f"<title>{html.escape(item['title'])}</title>", f"<link>{item['link']}</link>",
                 f"<pubDate>{item.get('date', 'Tue, 05 Mar 2024 10:20:00 GMT')}</pubDate>"]
        if "content" in item:
            parts.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        if "summary" in item:
            parts.append(f"<description>{html.escape(item['summary'])}</description>")
        entries.append("<item>" + "".join(parts) + "</item>")
    return (f'<?xml version="1.0" encoding="utf-8"?>{extra_prolog}\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            "<title>Example News</title><link>https://news.example.com/</link><description>All the news</description>"
            + "".join(entries) + "</channel></rss>").encode("utf-8")

