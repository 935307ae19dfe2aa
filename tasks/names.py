"""Canonical names of entity mentions within one article: "Putin" -> "Vladimir Putin".

Linear in the names' tokens: names are matched through a dict of token prefixes and suffixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# Labels that name something; their canonical name drops a leading "the" and a possessive.
_NAME_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW", "PRODUCT", "LANGUAGE"}
)
_KEEP_THE = frozenset({"the hague", "the gambia", "the bahamas"})
_QUOTES = "\"'“”‘’«»„"
_POSSESSIVE_RE = re.compile(r"\s*['’]s?$")
_SPACE_RE = re.compile(r"\s+")
# Titles and honorifics are not part of a person's name ("Gen. Mark A. Milley").
_TITLES = frozenset(
    """mr mrs ms miss mx dr prof sir dame lord lady gen lt col maj capt cpt sgt cpl pvt adm
    cmdr cdr brig sen rep gov rev fr hon pres supt insp det amb""".split()
)
# "Microsoft Corp" is "Microsoft"'s long form even though "Microsoft" is its prefix.
_CORPORATE = frozenset(
    "inc inc. corp corp. co co. ltd ltd. llc plc group ag sa nv se gmbh holdings".split()
)
_INITIAL_RE = re.compile(r"^[A-Z]\.?$")


def clean_name(text: str, label: str) -> str:
    """The name an entity mention stands for, before resolution within the article.

    Collapses whitespace, and for naming labels drops a leading "the", surrounding quotes, a
    trailing possessive ("Russia's" -> "Russia") and, for PERSON, leading titles ("Gen.").
    """
    name = _SPACE_RE.sub(" ", text).strip()
    if label not in _NAME_LABELS:
        return name
    if name[:4].lower() == "the " and name.lower() not in _KEEP_THE:
        name = name[4:]
    name = _POSSESSIVE_RE.sub("", name.strip(_QUOTES + " ")).strip(_QUOTES + " ")
    if label == "PERSON":
        tokens = name.split(" ")
        while len(tokens) > 1 and tokens[0].rstrip(".").lower() in _TITLES:
            tokens.pop(0)
        name = " ".join(tokens)
    return name or _SPACE_RE.sub(" ", text).strip()


def _name_key(tokens: Sequence[str]) -> tuple[str, ...]:
    return tuple(t.casefold() for t in tokens)


def resolve_names(names: Iterable[str], label: str) -> dict[str, str]:
    """Map each distinct name of one label in one article to its canonical form.

    PERSON: a name that is a token prefix or suffix of longer names ("Putin", "Vladimir"), or a
    longer name without its initials ("Mark Milley"), takes the longest of them
    ("Vladimir Putin", "Mark A. Milley"). ORG: a token suffix ("Post" -> "Washington Post"),
    or a prefix whose remainder is only corporate words ("Microsoft" -> "Microsoft Corp").
    ORG prefixes are otherwise left alone: "NATO" is not "NATO Council".
    Longer names resolve the same way first, so "Bush" with "George Bush" and "George W. Bush"
    becomes "George W. Bush"; when the candidates lead to different people ("Smith": "John
    Smith", "Jane Smith"; "Times": "New York Times", "Financial Times") the name is ambiguous
    and stays as it is. Other labels are returned unchanged.
    Cost: linear in the total number of tokens of the distinct names.
    """
    distinct = list(dict.fromkeys(names))
    if label not in ("PERSON", "ORG"):
        return {n: n for n in distinct}
    index: dict[tuple[str, ...], set[str]] = {}
    for name in distinct:
        tokens = name.split(" ")
        n = len(tokens)
        if n < 2:
            continue
        for k in range(1, n):
            index.setdefault(_name_key(tokens[k:]), set()).add(name)  # suffixes
            if label == "PERSON" or all(t.lower() in _CORPORATE for t in tokens[k:]):
                index.setdefault(_name_key(tokens[:k]), set()).add(name)  # prefixes
        if label == "PERSON":
            core = [t for t in tokens if not _INITIAL_RE.match(t)]
            if 1 < len(core) < n:
                index.setdefault(_name_key(core), set()).add(name)
    resolved: dict[str, str] = {}

    def resolve(name: str) -> str:
        # Candidates always have more tokens than `name`, so this recursion ends.
        if name not in resolved:
            candidates = index.get(_name_key(name.split(" ")), ())
            finals = {resolve(c) for c in candidates}
            resolved[name] = finals.pop() if len(finals) == 1 else name
        return resolved[name]

    return {name: resolve(name) for name in distinct}
