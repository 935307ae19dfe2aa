"""Field values as records carry them -> the lake's types: timestamps to UTC, URLs to their domain."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from dateutil import parser as date_parser


def parse_datetime(value: object) -> datetime | None:
    """A timestamp as records carry it -> UTC; a time without a zone is taken as UTC. None when
    it cannot be read."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = date_parser.parse(str(value))
    except (ValueError, OverflowError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def domain_of(url: str | None) -> str | None:
    """"https://www.bbc.co.uk/news/x" -> "bbc.co.uk"."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None
