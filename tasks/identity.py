"""One identity per person (organisation, place, ...) across the whole lake.

Within an article, tasks.names already makes "Putin" "Vladimir Putin". Across articles, every
(name, label) gets an `entity_id` in the lake's `entity_ids` table:

- names with the same identity key are one identity: the key folds case, accents, titles
  ("President Putin"), middle names and initials ("Mark A. Milley"), and common spellings of
  transliterated names ("Zelensky", "Zelenskyy", "Zelenskiy");
- a surname alone ("Putin", in an article that never names him fully) is the person of that
  surname when the lake knows exactly one; with two ("Boris Johnson", "Lyndon Johnson") it stays
  an identity of its own, and so do the two Johnsons.

Rows are only appended, in the batch's own transaction: when a later batch teaches the lake that a
surname is a known person (or that it has become ambiguous), a new row for that name records its
new identity, and the view `entity_identity` takes the newest row of each name. No data file of an
earlier article is rewritten. Ids are derived from the identity key, never random.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

import sql
from tasks import schema
from tasks.lake import lake_errors
from tasks.retry import retry_if_transient

# Labels that name one thing; numbers, dates and amounts get no identity.
IDENTITY_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW", "PRODUCT", "LANGUAGE", "WORK_OF_ART"}
)
# Titles that come before a person's name ("President Putin", "Prime Minister Tony Blair"); the
# honorifics tasks.names drops are here too, for names that reach the lake with them.
_PERSON_TITLES = frozenset(
    """president vice prime minister chancellor premier king queen prince princess pope senator
    governor secretary general gen mayor judge justice chairman chief executive speaker leader
    foreign defence defense finance home interior state deputy mr mrs ms miss dr prof sir dame
    lord lady rev father sheikh emir ayatollah""".split()
)
_CORPORATE = frozenset("inc corp corporation co ltd llc plc group ag sa nv se gmbh holdings company".split())
_INITIAL_RE = re.compile(r"^[a-z]$")
_NOT_WORD_RE = re.compile(r"[^\w\s]")
_POSSESSIVE_RE = re.compile(r"['’]s\b")


def _fold(word: str) -> str:
    """One word of a name, spelled the way its variants agree on: no accents or case, no
    doubled letters, and one spelling of the transliterated endings -yy/-iy/-ij/-ski."""
    word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).casefold()
    word = re.sub(r"(?:yy|iy|ij|yi|ii)$", "y", word)
    word = re.sub(r"(?<=sk)i$", "y", word)
    return re.sub(r"(.)\1+", r"\1", word)


@functools.lru_cache(maxsize=1 << 16)  # a name recurs across articles and batches, and is keyed twice per batch
def identity_key(name: str, label: str) -> str:
    """The key two names of one identity share. PERSON: first and last word of the name without
    titles or initials ("President Vladimir V. Putin" -> "vladimir putin"); ORG: without a leading
    "the" and trailing corporate words; others: the folded name."""
    words = [_fold(w) for w in _NOT_WORD_RE.sub(" ", _POSSESSIVE_RE.sub("", name)).split()]
    words = [w for w in words if w]
    if label == "PERSON":
        while len(words) > 1 and words[0] in _PERSON_TITLES:
            words.pop(0)
        core = [w for w in words if not _INITIAL_RE.match(w)] or words
        words = [core[0], core[-1]] if len(core) > 1 else core
    elif label == "ORG":
        if len(words) > 1 and words[0] == "the":
            words.pop(0)
        while len(words) > 1 and words[-1] in _CORPORATE:
            words.pop()
    return " ".join(words)


def entity_id_of(label: str, key: str) -> str:
    return hashlib.blake2b(f"{label}\x1f{key}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Identity:
    """The identity of one (name, label): one row of `entity_ids`."""

    name: str
    label: str
    entity_id: str
    display_name: str
    identity_key: str
    surname_key: str | None


def _surname_key(key: str, label: str) -> str | None:
    return key.rsplit(" ", 1)[-1] if label == "PERSON" and key else None


def plan_identities(names: Iterable[tuple[str, str]], known: Iterable[Identity]) -> list[Identity]:
    """The `entity_ids` rows a batch adds. `names` are the batch's (name, label) pairs; `known` are
    the lake's current identities of those names and of every person sharing a surname with one
    of them. Returns rows for names the lake has not seen and for known surnames whose person
    changed; nothing for names whose identity stands."""
    current = {(i.name, i.label): i for i in known}
    todo = {(n, lab) for n, lab in names if n and lab in IDENTITY_LABELS}
    displays = {i.entity_id: i.display_name for i in current.values()}
    keys = {pair: identity_key(*pair) for pair in todo | set(current)}
    todo = {pair for pair in todo if keys[pair]}  # a name of punctuation alone has no identity
    # Full names (two words or more) of people, by surname: whom a surname alone can stand for.
    people: dict[str, set[str]] = {}
    for (name, label), key in sorted(keys.items()):  # sorted: the same display name whatever the order
        if label == "PERSON" and " " in key:
            people.setdefault(_surname_key(key, label), set()).add(key)
            displays.setdefault(entity_id_of(label, key), name)
    # Known surnames alone whose person may change with this batch's full names.
    todo |= {pair for pair, key in keys.items() if pair[1] == "PERSON" and " " not in key and key in people}
    rows = []
    for name, label in sorted(todo):
        key = keys[(name, label)]
        target = key
        if label == "PERSON" and " " not in key and len(people.get(key, ())) == 1:
            target = next(iter(people[key]))
        entity_id = entity_id_of(label, target)
        identity = Identity(name, label, entity_id, displays.setdefault(entity_id, name), key,
                            _surname_key(key, label))
        old = current.get((name, label))
        if old is None or old.entity_id != identity.entity_id:
            rows.append(identity)
    return rows


@lake_errors()
def known_identities(con: duckdb.DuckDBPyConnection, names: Iterable[tuple[str, str]]) -> list[Identity]:
    """The lake's current identities of `names` and of every person sharing a surname with one."""
    probe = [(label, key, _surname_key(key, label)) for name, label in names
             if label in IDENTITY_LABELS for key in [identity_key(name, label)]]
    if not probe:
        return []
    con.register("identity_probe", pa.table({
        "label": pa.array([p[0] for p in probe], pa.string()),
        "identity_key": pa.array([p[1] for p in probe], pa.string()),
        "surname_key": pa.array([p[2] for p in probe], pa.string()),
    }))
    try:
        return [Identity(*row) for row in con.execute(sql.load("known_identities")).fetchall()]
    finally:
        con.unregister("identity_probe")


def batch_names(rows: dict[str, pa.Table]) -> set[tuple[str, str]]:
    """The (name, label) pairs a batch's entities and quote speakers bring."""
    entities = rows["entities"]
    quotes = rows["quotes"]
    pairs = set(zip(entities.column("name").to_pylist(), entities.column("label").to_pylist()))
    pairs |= set(zip(quotes.column("speaker").to_pylist(), quotes.column("speaker_label").to_pylist()))
    return {(name, label) for name, label in pairs if name and label in IDENTITY_LABELS}


def identity_rows(con: duckdb.DuckDBPyConnection, rows: dict[str, pa.Table], *, run_id: str,
                  now: datetime) -> pa.Table:
    """The `entity_ids` rows for one batch's `rows`, decided against what the lake knows now (the
    caller commits them with the batch)."""
    names = batch_names(rows)
    planned = plan_identities(names, known_identities(con, names))
    return pa.Table.from_pylist(
        [{"name": i.name, "label": i.label, "entity_id": i.entity_id, "display_name": i.display_name,
          "identity_key": i.identity_key, "surname_key": i.surname_key, "run_id": run_id, "assigned_at": now}
         for i in planned],
        schema.ENTITY_IDS,
    )


@task(name="identities", cache_policy=NO_CACHE, retries=4, retry_delay_seconds=[1, 2, 4, 8],
      retry_condition_fn=retry_if_transient)
def identity_rows_task(con: duckdb.DuckDBPyConnection, rows: dict[str, pa.Table], *, run_id: str,
                       now: datetime) -> pa.Table:
    return identity_rows(con, rows, run_id=run_id, now=now)
