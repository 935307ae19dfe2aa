"""Input formats beyond one article per text file: HTML pages, JSON and JSONL records, feeds, WARC.

Each module turns bytes (or a byte stream, for the formats that can be large) into records; the
reading stream in tasks.read accounts each record as `<path>#<n>` and sends it through the same
dedup, enrichment and commit as a text file.
"""
