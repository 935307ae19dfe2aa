"""Enrich article bodies with spaCy: entities, canonical names, cited sources, counts, language.

Plain functions first (testable without Prefect), one thin ``@task`` at the bottom.

    >>> from tasks.enrich import enrich_bodies
    >>> [e] = enrich_bodies(["Pentagon spokesman John Kirby told the Washington Post ..."])
    >>> e.sources
    ['Washington Post']

Design notes
------------
* One ``nlp.pipe`` call per batch, NER only. ``load_nlp`` excludes every component but ``ner``
  (which has its own embedded tok2vec, so its entities are identical to the full pipeline's).
* Everything after NER is O(entities) per article: names are canonicalised with a dict of token
  prefixes/suffixes, and cited sources are found by matching small anchored regexes against a
  ~48-character window on each side of an entity, never by scanning the whole body per entity.
* ``word_count`` counts ``\\b\\w[\\w'’-]*\\b`` matches: cheap, stable, and it treats "don't",
  "Poland-Ukraine" and "O’Brien" as one word each.
* ``language`` counts words of spaCy's own stop word lists in the first 2,000 characters and
  returns the ISO 639-1 code of the clear winner, or None when the text is too short or no
  language clearly wins. The NER model itself is English whatever the language.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from tasks.ner import EXCLUDE, MODEL, NerJob, RawEntity, available_cpus
from tasks.records import Enrichment, Entity
from tasks.retry import retry_unless_bug

# Worker processes for nlp.pipe. Measured on the 2-core dev machine while otherwise idle, on
# BBC bodies (words counted as in `word_count`), best of 2 runs:
#   300 bodies / 113k words: 1 process 12,800 words/s (bare nlp.pipe 13,200); 2 processes
#                            21,600 words/s (bare 21,600)
#   500 bodies / 192k words: 1 process 12,800 words/s (bare 13,100); 2 processes 22,100
#                            (bare 24,800)
# so 2 processes pay off (~1.7x) for batches of a few hundred bodies. They do not when the
# cores are busy with other work (at load ~4, 2 processes ran slower than 1): pass
# n_process=1 there. spaCy starts its workers with the platform's default start method: on
# Linux they are forked, so the loaded model is shared copy-on-write and never pickled; on
# spawn platforms (macOS, Windows) spaCy pickles the pipes once per worker per call, never
# per batch. Workers are started per call (a fork costs milliseconds next to a batch).
DEFAULT_N_PROCESS = 2
DEFAULT_BATCH_SIZE = 64


@functools.cache
def load_nlp():
    """The spaCy pipeline (NER only), loaded once per process."""
    import spacy  # heavy import kept out of module import time for CLI start-up

    return spacy.load(MODEL, exclude=EXCLUDE)


# --------------------------------------------------------------------------------------------
# Word count and language
# --------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"\b\w[\w'’-]*\b")
_LANG_WORD_RE = re.compile(r"\w+(?:['’]\w+)*")

LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb",
    "fi", "pl", "ro", "tr", "ru", "uk", "cs", "hu",
)  # fmt: skip
LANGUAGE_SAMPLE_CHARS = 2000
LANGUAGE_MIN_WORDS = 20
# The winner must cover this share of the sampled words with its stop words...
LANGUAGE_MIN_SHARE = 0.2
# ... and beat the runner-up by this factor; otherwise the text is too mixed or too unusual.
LANGUAGE_MIN_LEAD = 1.25


def word_count(body: str) -> int:
    """Number of words in ``body``: matches of ``\\b\\w[\\w'’-]*\\b``."""
    return len(_WORD_RE.findall(body))


def _load_stop_words(code: str) -> frozenset[str]:
    """spaCy's stop word list for ``code``, read from ``spacy/lang/<code>/stop_words.py``.

    The module file is executed on its own: importing it the normal way runs the language
    package's ``__init__``, which compiles tokenizer exceptions (about 3 s for French).
    """
    # find_spec of the top-level package locates it without importing spaCy (a submodule's would).
    spec = importlib.util.find_spec("spacy")
    path = Path(spec.submodule_search_locations[0]) / "lang" / code / "stop_words.py"
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return frozenset(namespace["STOP_WORDS"])


@functools.cache
def _stop_word_index() -> dict[str, tuple[int, ...]]:
    """word -> indexes into LANGUAGES of every stop word list that holds it."""
    index: dict[str, list[int]] = {}
    for i, code in enumerate(LANGUAGES):
        words = _load_stop_words(code)
        for word in words:
            index.setdefault(word.lower().replace("’", "'"), []).append(i)
    return {word: tuple(langs) for word, langs in index.items()}


def detect_language(body: str) -> str | None:
    """ISO 639-1 code of the language of ``body``, or None when too short or unclear."""
    words = _LANG_WORD_RE.findall(body[:LANGUAGE_SAMPLE_CHARS].lower().replace("’", "'"))
    if len(words) < LANGUAGE_MIN_WORDS:
        return None
    index = _stop_word_index()
    hits = [0] * len(LANGUAGES)
    for word in words:
        for i in index.get(word, ()):
            hits[i] += 1
    ranked = sorted(range(len(LANGUAGES)), key=hits.__getitem__, reverse=True)
    best, second = hits[ranked[0]], hits[ranked[1]]
    if best < LANGUAGE_MIN_SHARE * len(words) or best < LANGUAGE_MIN_LEAD * second:
        return None
    return LANGUAGES[ranked[0]]


# --------------------------------------------------------------------------------------------
# Canonical names
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Cited sources
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------------


def enrich_doc(body: str, doc) -> Enrichment:
    """Turn one processed spaCy ``doc`` of ``body`` into an Enrichment (no further NLP)."""
    return enrich_entities(body, [(ent.text, ent.label_, ent.start_char, ent.end_char) for ent in doc.ents])


def enrich_entities(body: str, raw: list[RawEntity]) -> Enrichment:
    """The Enrichment of ``body`` from its NER entities ``raw`` (text, label, start, end), in
    document order (no further NLP)."""
    cleaned = [clean_name(text, label) for text, label, _, _ in raw]
    by_label: dict[str, list[str]] = {}
    for (_, label, _, _), name in zip(raw, cleaned):
        by_label.setdefault(label, []).append(name)
    resolved = {label: resolve_names(names, label) for label, names in by_label.items()}

    entities = []
    sources = set()
    for (text, label, start, end), name in zip(raw, cleaned):
        name = resolved[label][name]
        entities.append(Entity(text, name, label, start, end))
        outlet = outlet_name(name, label)
        if outlet is not None:
            if _cites(body, start, end, outlet=True):
                sources.add(outlet)
        elif label == "ORG" and _cites(body, start, end, outlet=False):
            sources.add(name)
    if raw:
        ends = [end for _, _, _, end in raw]  # ascending: doc.ents are sorted and disjoint
    for match in _OUTLET_SCAN_RE.finditer(body):
        start, end = match.span()
        if raw:
            i = bisect.bisect_right(ends, start)  # first entity ending after the match starts
            if i < len(raw) and raw[i][2] < end:
                continue  # inside an entity: judged above under that entity's own name
        if _cites(body, start, end, outlet=True):
            sources.add(_OUTLETS[match.group().lower()])
    return Enrichment(
        entities=entities,
        sources=sorted(sources),
        word_count=word_count(body),
        language=detect_language(body),
    )


def enrich_bodies(
    bodies: list[str],
    n_process: int = DEFAULT_N_PROCESS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[Enrichment]:
    """Enrich a batch of article bodies: one Enrichment per body, in order.

    One ``nlp.pipe`` call (NER only) over the whole batch. With ``n_process > 1`` spaCy runs
    that many worker processes, but never more than there are CPUs available or batches of
    ``batch_size`` bodies: a batch that fits in one ``batch_size`` runs in-process. With
    several workers, ``batch_size`` is an upper bound: batches are evened out so each worker
    gets the same number of bodies.
    """
    if not bodies:
        return []
    nlp = load_nlp()
    n_batches = -(-len(bodies) // batch_size)
    n_process = max(1, min(n_process, n_batches, available_cpus()))
    if n_process > 1:
        # spaCy deals batches to the workers in turn: make their number a multiple of the
        # workers and their sizes equal, or one worker gets e.g. 128 of 200 bodies and the
        # other 72 (batch_size 64), and the call waits for the busier one.
        n_batches = -(-n_batches // n_process) * n_process
        batch_size = -(-len(bodies) // n_batches)
    docs = nlp.pipe(bodies, n_process=n_process, batch_size=batch_size)
    return [enrich_doc(body, doc) for body, doc in zip(bodies, docs, strict=True)]


def enrich_submitted(bodies: list[str], job: NerJob) -> list[Enrichment]:
    """The Enrichments of ``bodies``, whose NER was submitted to the worker processes as ``job``
    (tasks.ner): each chunk is finished here while the workers go on with the next."""
    return [enrich_entities(body, raw) for body, raw in zip(bodies, job.entities(), strict=True)]


@task(name="enrich", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1, retry_condition_fn=retry_unless_bug)
def enrich_task(bodies: list[str], job: NerJob) -> list[Enrichment]:
    """Prefect task: waits for one batch's NER job and finishes its Enrichments. Retried when the
    machine failed (memory, a worker that died), never for a bug; a retry runs NER in this process,
    since the workers' job is spent and a dead worker is not replaced."""
    if task_run.run_count > 1:
        return enrich_bodies(bodies, n_process=1)
    return enrich_submitted(bodies, job)
