"""The lake's tables, defined once as Arrow schemas.

The same schemas build every batch (so a batch can never drift from its table) and create the
tables (DuckDB maps list<string> to VARCHAR[] and timestamp[us, UTC] to TIMESTAMPTZ). Column names
are the public data contract (the README's Tables section): add columns freely, rename only with a
note. A column or table added here reaches an existing lake through tasks.lake's migration step.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

ARTICLES = pa.schema(
    [
        ("article_id", pa.string()),
        ("title", pa.string()),
        ("dek", pa.string()),
        ("alt_title", pa.string()),
        ("authors", pa.list_(pa.string())),
        ("outlet", pa.string()),
        ("published_at", UTC_TIMESTAMP),
        ("body", pa.string()),
        ("image_caption", pa.string()),
        ("image_credit", pa.string()),
        ("topic", pa.string()),
        ("word_count", pa.int32()),
        ("language", pa.string()),
        ("format", pa.string()),
        ("source_path", pa.string()),
        ("file_sha256", pa.string()),
        ("run_id", pa.string()),
        ("ingested_at", UTC_TIMESTAMP),
        ("url", pa.string()),
        ("source_domain", pa.string()),
        ("summary_only", pa.bool_()),  # a feed entry with no full content: the body is its summary
    ]
)

ENTITIES = pa.schema(
    [
        ("article_id", pa.string()),
        ("text", pa.string()),
        ("name", pa.string()),
        ("label", pa.string()),
        ("start_char", pa.int32()),
        ("end_char", pa.int32()),
    ]
)

SOURCES = pa.schema([("article_id", pa.string()), ("source", pa.string())])

# Direct quotes (tasks/quotes.py): one row per quote, offsets into articles.body.
QUOTES = pa.schema(
    [
        ("article_id", pa.string()),
        ("quote", pa.string()),  # the quoted words, without the marks
        ("speaker", pa.string()),  # canonical name as in entities.name; NULL when the article does not tell
        ("speaker_label", pa.string()),  # PERSON, ORG, ...
        ("cue", pa.string()),  # "said", "told reporters", "according to"; NULL when it carries on a quote
        ("start_char", pa.int32()),
        ("end_char", pa.int32()),
    ]
)

# One identity per person (or organisation, place...) across the lake (tasks/identity.py). Rows are
# only ever appended: the newest row of a (name, label) is its current identity (view
# entity_identity), so a later article that merges two names changes the mapping, never old rows.
ENTITY_IDS = pa.schema(
    [
        ("name", pa.string()),  # canonical name within an article, as in entities.name / quotes.speaker
        ("label", pa.string()),
        ("entity_id", pa.string()),  # stable: derived from the identity's key, never random
        ("display_name", pa.string()),  # the identity's fullest name ("Vladimir Putin")
        ("identity_key", pa.string()),  # the name normalised (accents, titles, spellings) for matching
        ("surname_key", pa.string()),  # PERSON: the key's last word, how a surname alone finds its person
        ("run_id", pa.string()),
        ("assigned_at", UTC_TIMESTAMP),
    ]
)

DUPLICATES = pa.schema(
    [
        ("source_path", pa.string()),
        ("file_sha256", pa.string()),
        ("article_id", pa.string()),
        ("method", pa.string()),  # "exact" | "near"
        ("similarity", pa.float64()),
        ("run_id", pa.string()),
    ]
)

FILES = pa.schema(
    [
        ("path", pa.string()),  # relative to the inbox
        ("sha256", pa.string()),  # NULL only for files that could not be read
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),  # with path and size, lets an unchanged folder skip hashing
        ("status", pa.string()),  # "ingested" | "duplicate" | "rejected" | "container" (records have path#n rows)
        ("reason", pa.string()),
        ("article_id", pa.string()),
        ("run_id", pa.string()),
        ("seen_at", UTC_TIMESTAMP),
    ]
)

# The near-dedup LSH index (tasks/near_dedup.py): one row per band of each canonical article.
MINHASH_BANDS = pa.schema(
    [
        ("article_id", pa.string()),
        ("band", pa.int16()),  # 0..31 bands of the body's signature, 32..63 of its lead's
        ("band_hash", pa.int64()),
    ]
)

# What near dedup verifies a candidate on (tasks/near_dedup.py), so it never reads history bodies.
SHINGLE_SKETCHES = pa.schema(
    [
        ("article_id", pa.string()),
        ("shingle_count", pa.int32()),  # distinct 3-word shingles of the normalized body
        ("sketch", pa.binary()),  # its smallest shingle hashes (up to 256), ascending little-endian uint32
    ]
)

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("flow", pa.string()),
        ("started_at", UTC_TIMESTAMP),
        ("finished_at", UTC_TIMESTAMP),
        ("status", pa.string()),  # "running" | "completed" | "failed" | "crashed" (died unfinished; set by the next run)
        ("files_seen", pa.int64()),
        ("articles_new", pa.int64()),
        ("duplicates", pa.int64()),
        ("rejected", pa.int64()),
        ("snapshot_id", pa.int64()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "entities": ENTITIES,
    "sources": SOURCES,
    "quotes": QUOTES,
    "entity_ids": ENTITY_IDS,
    "duplicates": DUPLICATES,
    "files": FILES,
    "minhash_bands": MINHASH_BANDS,
    "shingle_sketches": SHINGLE_SKETCHES,
    "runs": RUNS,
}
