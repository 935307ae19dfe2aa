"""Outlets an article cites ("the Washington Post reports", "according to Reuters").

Small anchored regexes are matched against a short window on each side of an entity, never by
scanning the whole body per entity; one extra scan per body finds outlets NER did not tag.
"""

from __future__ import annotations

import bisect
import re

from tasks.ner import RawEntity

# Well-known outlets: lower-cased alias (without a leading "the") -> canonical name. An entity
# whose canonical name is here counts as an outlet whatever label spaCy gave it.
_OUTLETS: dict[str, str] = {}
_OUTLET_ALIASES: set[str] = set()
for _canonical, *_aliases in (
    ("Associated Press", "AP", "the AP"),
    ("Reuters", "Thomson Reuters"),
    ("AFP", "Agence France-Presse", "Agence France Presse"),
    ("CNN",),
    ("BBC", "BBC News"),
    ("NPR", "National Public Radio"),
    ("Bloomberg", "Bloomberg News"),
    ("Politico",),
    ("Axios",),
    ("Fox News",),
    ("NBC News", "NBC"),
    ("CBS News", "CBS"),
    ("ABC News", "ABC"),
    ("MSNBC",),
    ("CNBC",),
    ("PBS",),
    ("Guardian",),
    ("Wall Street Journal", "WSJ"),
    ("Washington Post", "WaPo"),
    ("New York Times", "NYT", "NY Times"),
    ("Financial Times", "FT"),
    ("USA Today",),
    ("Los Angeles Times", "LA Times", "L.A. Times"),
    ("Chicago Tribune",),
    ("Boston Globe",),
    ("New York Post",),
    ("Daily Mail", "Mail"),
    ("Mail on Sunday",),
    ("Daily Express", "Sunday Express"),
    ("Daily Mirror", "Mirror"),
    ("Sunday Times",),
    ("Radio Times",),
    ("Telegraph", "Daily Telegraph"),
    ("Independent",),
    ("Economist",),
    ("Times of London",),
    ("Sky News",),
    ("Al Jazeera",),
    ("Xinhua",),
    ("Interfax",),
    ("TASS", "Tass"),
    ("RIA Novosti",),
    ("Kyodo", "Kyodo News"),
    ("Yonhap",),
    ("Deutsche Welle", "DW"),
    ("Der Spiegel", "Spiegel"),
    ("Le Monde",),
    ("Haaretz",),
    ("Times of Israel",),
    ("Kyiv Independent",),
    ("Moscow Times",),
    ("Business Insider", "Insider"),
    ("BuzzFeed News", "BuzzFeed"),
    ("Vox",),
    ("Vice News",),
    ("Slate",),
    ("Atlantic",),
    ("New Yorker",),
    ("Time magazine",),
    ("Newsweek",),
    ("Forbes",),
    ("Wired",),
    ("TechCrunch",),
    ("The Verge", "Verge"),
    ("Ars Technica",),
    ("HuffPost", "Huffington Post"),
    ("Daily Beast",),
    ("The Hill", "Hill"),
    ("ProPublica",),
    ("Hollywood Reporter",),
    ("Rolling Stone",),
    ("TMZ",),
    ("Page Six",),
    ("Semafor",),
    ("Mother Jones",),
):
    for _alias in (_canonical, *_aliases):
        _OUTLETS[_alias.lower().removeprefix("the ")] = _canonical
        _OUTLET_ALIASES.add(_alias.removeprefix("the ").removeprefix("The "))
del _canonical, _aliases, _alias

# An ORG whose last word is one of these is an outlet too ("the Kansas City Star").
_OUTLET_WORDS = frozenset(
    """times post news journal herald tribune gazette telegraph chronicle magazine radio
    television tv mirror observer inquirer examiner courier dispatch sentinel ledger bulletin
    globe star daily weekly""".split()
)
# ... except these companies.
_NOT_OUTLETS = frozenset(
    {"deutsche post", "swiss post", "canada post", "australia post", "new zealand post"}
)
# Outlet names that are also everyday words: only counted when capitalised.
_AMBIGUOUS_OUTLETS = frozenset(
    {"hill", "mail", "mirror", "independent", "insider", "atlantic", "slate"}
)
# Broadcasters whose programmes and channels are named after them ("BBC Radio 4" -> "BBC").
_BRANDS = frozenset({"bbc", "cnn", "nbc", "cbs", "abc", "npr", "pbs", "reuters"})

_WINDOW = 48
_VERBS = (
    r"reports|reported|reporting|has\s+reported|first\s+reported|writes|wrote|says|said|notes|"
    r"noted|adds|added|has\s+learned|learned|learns|confirms|confirmed|reveals|revealed|"
    r"explains|explained|quotes|quoted|cites|cited|finds|found|observes|observed|"
    r"points\s+out|pointed\s+out|was\s+told|were\s+told|has\s+been\s+told"
)
# After an outlet: "the Washington Post reports", "CNN, citing ..., reported".
_AFTER_RE = re.compile(r"\s*,?\s*(?:" + _VERBS + r")\b")
# Before an outlet: "tells the Post", "according to Reuters", "per the AP", "told CNN".
_BEFORE_RE = re.compile(
    r"(?:\baccording\s+to|\btells?|\btold|\btelling|\bper|\bvia|\bquoted\s+by|\bcited\s+by|"
    r"\breported\s+by|\breports|\bwrites|\bwrote|\binterview\s+with|\bspeaking\s+to|"
    r"\bspoke\s+(?:to|with)|\bstatement\s+to|\bwriting\s+in|\bwrites\s+in|\bwrote\s+in|"
    r"\b(?:story|report|article|piece|column|op-ed|editorial|interview)\s+(?:in|for|by|with)|"
    r"\bconfirmed\s+to|\bsaid\s+to|\bsays\s+to|\b(?:reports|reported|reporting)\s+in)"
    r"\s+(?:the\s+)?$",
    re.IGNORECASE,
)
# For an ORG that is not a known outlet, only the clause-final journalistic pattern counts:
# ", the Kyiv Post reports." — "Tesco reported a profit" or "the Pentagon said" do not.
_GENERIC_AFTER_RE = re.compile(r"\s+(?:reports|reported|writes|wrote)\s*(?:[.,;:!?)\"”]|$)")


_DESCRIPTOR_RE = re.compile(
    r"\s+(?:news\s+agency|agency|newspaper|magazine|network|website|channel|programme|program)$",
    re.IGNORECASE,
)


def outlet_name(name: str, label: str) -> str | None:
    """The canonical outlet an entity's canonical name refers to, or None if not an outlet.

    A trailing descriptor is ignored for the lookup: "Associated Press news agency",
    "Times newspaper".
    """
    stripped = _DESCRIPTOR_RE.sub("", name)
    if stripped != name and stripped.lower() in _OUTLETS:
        name = stripped
    key = name.lower()
    canonical = _OUTLETS.get(key)
    if canonical is not None:
        if key in _AMBIGUOUS_OUTLETS and not name[:1].isupper():
            return None
        return canonical
    if label == "ORG" and name[:1].isupper():
        first, _, rest = key.partition(" ")
        if rest and first in _BRANDS:
            return _OUTLETS[first]
        if key.rsplit(" ", 1)[-1] in _OUTLET_WORDS and key not in _NOT_OUTLETS:
            return name
    return None


# Outlets spaCy sometimes tags as nothing at all ("Axios reports"): one scan of the body per
# article for these distinctive names (case-sensitive; everyday words like "Mail" left out).
_SCAN_SKIP = _AMBIGUOUS_OUTLETS | {"abc", "cbs", "nbc", "vox", "wired", "ft", "dw", "wapo"}
_OUTLET_SCAN_RE = re.compile(
    r"(?<![\w.-])(?:"
    + "|".join(
        re.escape(alias)
        for alias in sorted(
            {a for a in _OUTLET_ALIASES if a.lower().removeprefix("the ") not in _SCAN_SKIP},
            key=len,
            reverse=True,
        )
    )
    + r")(?![\w-])"
)


def _cites(body: str, start: int, end: int, outlet: bool) -> bool:
    after = body[end : end + _WINDOW]
    if not outlet:
        return _GENERIC_AFTER_RE.match(after) is not None
    if _AFTER_RE.match(after):
        return True
    return _BEFORE_RE.search(body[max(0, start - _WINDOW) : start]) is not None


def cited_sources(body: str, raw: list[RawEntity], names: list[str]) -> list[str]:
    """Canonical names of the outlets ``body`` cites. ``raw`` are its NER entities in document
    order, ``names`` their canonical names (tasks.names), pairwise."""
    sources = set()
    for (_, label, start, end), name in zip(raw, names, strict=True):
        outlet = outlet_name(name, label)
        if outlet is not None:
            if _cites(body, start, end, outlet=True):
                sources.add(outlet)
        elif label == "ORG" and _cites(body, start, end, outlet=False):
            sources.add(name)
    ends = [end for _, _, _, end in raw]  # ascending: doc.ents are sorted and disjoint
    for match in _OUTLET_SCAN_RE.finditer(body):
        start, end = match.span()
        i = bisect.bisect_right(ends, start)  # first entity ending after the match starts
        if i < len(raw) and raw[i][2] < end:
            continue  # inside an entity: judged above under that entity's own name
        if _cites(body, start, end, outlet=True):
            sources.add(_OUTLETS[match.group().lower()])
    return sorted(sources)
