"""Exact deduplication: the same story in two files is one article.

`article_id` is derived from the body with whitespace, quote styles, dashes and case folded, so a
re-saved, re-wrapped or re-encoded copy maps to the same id. The first copy (in the lake, then in
path order within the batch) is the canonical one; every other copy becomes a `duplicates` row.
Runs before enrichment, so a duplicate never pays for NER.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

import sql
from tasks.lake import lake_errors
from tasks.read import ReadResult

if TYPE_CHECKING:
    from tasks.near_dedup import NearIndexEntry

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
                         "«": '"', "»": '"', "–": "-", "—": "-", "‐": "-", "\u00a0": " "})
# str.translate looks up every character (0.6 ms for a 3,000-character body); a regex finds the few
# that need it. str.split() splits on exactly the characters regex \s matches (str.isspace).
_QUOTE_CHARACTERS = re.compile("[" + "".join(map(chr, _QUOTES)) + "]")


def _fold_quote(match: re.Match) -> str:
    return _QUOTES[ord(match.group())]


def normalize_body(body: str) -> str:
    text = _QUOTE_CHARACTERS.sub(_fold_quote, unicodedata.normalize("NFKC", body)).casefold()
    return " ".join(text.split())


def article_id_for(body: str) -> str:
    """Stable id of a story: 128 bits of sha256 over the normalized body."""
    return hashlib.sha256(normalize_body(body).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class DuplicateMark:
    """A file whose story the lake (or an earlier file of the batch) already has."""

    file: ReadResult
    article_id: str  # the canonical article it duplicates
    method: str  # "exact" | "near"
    similarity: float


@dataclass
class Deduplicated:
    new: list[tuple[ReadResult, str]]  # (file, article_id): stories the lake does not have
    duplicates: list[DuplicateMark]
    rejected: list[ReadResult]
    # article_id -> near-dedup index entry of a new story (tasks.near_dedup), committed with the article
    near_index: dict[str, NearIndexEntry] = field(default_factory=dict)


def split_exact_duplicates(
    results: list[ReadResult], known_ids: Callable[[list[str]], set[str]]
) -> Deduplicated:
    """Split parsed files into new stories and exact duplicates; `known_ids` answers which of a
    list of ids the lake already holds (one query for the whole batch)."""
    out = Deduplicated(new=[], duplicates=[], rejected=[r for r in results if r.article is None])
    keyed = [(r, article_id_for(r.article.body)) for r in results if r.article is not None]
    seen = known_ids([article_id for _, article_id in keyed])
    for result, article_id in keyed:
        if article_id in seen:
            out.duplicates.append(DuplicateMark(result, article_id, "exact", 1.0))
        else:
            seen.add(article_id)
            out.new.append((result, article_id))
    return out


@lake_errors()
def existing_article_ids(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> set[str]:
    con.register("batch_article_ids", pa.table({"article_id": pa.array(article_ids, pa.string())}))
    try:
        return {row[0] for row in con.execute(sql.load("existing_article_ids")).fetchall()}
    finally:
        con.unregister("batch_article_ids")
