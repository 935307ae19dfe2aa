"""Word count and language of an article body: cheap text statistics, no NLP model.

``word_count`` counts ``\\b\\w[\\w'’-]*\\b`` matches: cheap, stable, and it treats "don't",
"Poland-Ukraine" and "O’Brien" as one word each. ``detect_language`` counts words of spaCy's own stop
word lists in the start of the body and returns the ISO 639-1 code of the clear winner, or None when
the text is too short or no language clearly wins (the NER model is English whatever the language).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

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
