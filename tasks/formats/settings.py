"""Settings of the format readers, part of the ingest flow's settings (flows.ingest.IngestSettings)."""

from __future__ import annotations

from pydantic import BaseModel, Field

# No news article comes near this as one JSON line, feed entry or WARC payload; a larger record is a
# dump or an attack, and is rejected without ever being held in memory whole.
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024


class JsonFields(BaseModel):
    """Where an article's fields are in a JSON record: dotted paths ("source.name") into the object."""

    body: str = Field(description="The article text (HTML is extracted as HTML)")
    title: str | None = None
    dek: str | None = Field(None, description="Standfirst or description")
    authors: str | None = Field(None, description="A list of names, or one string of names")
    published_at: str | None = Field(None, description="A date and time (ISO 8601 or any common form)")
    url: str | None = None
    outlet: str | None = None
    source_domain: str | None = None


class FormatSettings(BaseModel):
    max_record_bytes: int = Field(DEFAULT_MAX_RECORD_BYTES, ge=1,
                                  description="Larger records (a JSONL line, a WARC payload) are rejected unread")
    json_fields: JsonFields | None = Field(
        None, description="Field mapping for JSON records that are neither news-please's nor NewsAPI's schema")
