"""Labelled near-duplicate material made from real articles, for the dedup benchmarks.

Each kind of copy imitates one way a story reaches an inbox twice: syndicated under another
headline with another outlet's header and footer, copy-edited, trimmed with an "updated" line, and
hard-wrapped at 70 columns with curly quotes. Negatives are pairs of different stories on the same
subject (same category, sharing the most names). Everything is driven by a seeded random.Random,
so a run is repeatable.
"""

from __future__ import annotations

import itertools
import random
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WORD = re.compile(r"\w+")
# Capitalised words that are not names, so two stories do not look related for sharing them.
_NOT_NAMES = frozenset(
    "The A An In On At It He She They We But And Or If As Its His Her Their This That These Those Mr Mrs "
    "Ms Dr Sir UK US BBC For Of To By With From After Before When While Some Many Most More Last Next "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July "
    "August September October November December There What Who Why How However Also Such".split()
)
# A same-story pair shares most of its vocabulary; different stories on one subject do not. Used to
# keep the corpus' own re-filed stories out of the originals, independently of the shingle measure.
SAME_STORY_WORD_JACCARD = 0.6


@dataclass(frozen=True)
class Story:
    name: str  # path relative to the corpus, e.g. "business/001.txt"
    title: str
    paragraphs: list[str]

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]

    def text(self) -> str:
        return self.title + "\n\n" + "\n\n".join(self.paragraphs) + "\n"


def load_stories(corpus: Path) -> list[Story]:
    """Every article of a BBC-shaped corpus (headline line, blank line, paragraphs), path order."""
    stories = []
    for path in sorted(corpus.rglob("*.txt")):
        lines = path.read_text(encoding="utf-8", errors="replace").strip().split("\n\n")
        paragraphs = [" ".join(p.split()) for p in lines[1:] if p.strip()]
        if paragraphs:
            stories.append(Story(path.relative_to(corpus).as_posix(), " ".join(lines[0].split()), paragraphs))
    return stories


def _words(story: Story) -> set[str]:
    return {w.casefold() for w in WORD.findall(" ".join(story.paragraphs))}


def _names(story: Story) -> set[str]:
    return {w for w in WORD.findall(" ".join(story.paragraphs)) if w[0].isupper() and w not in _NOT_NAMES}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def distinct_stories(stories: list[Story]) -> list[Story]:
    """Drop every story that repeats an earlier one of its category (the corpus files some stories
    twice, byte-identical or re-edited): those are real duplicates with no label."""
    kept: list[Story] = []
    vocab: dict[str, set[str]] = {}
    for story in stories:
        words = _words(story)
        if not any(_jaccard(words, vocab[k.name]) >= SAME_STORY_WORD_JACCARD
                   for k in kept if k.category == story.category):
            kept.append(story)
            vocab[story.name] = words
    return kept


def same_topic_partner(story: Story, pool: list[Story]) -> Story:
    """The story of the same category sharing the most names with `story`: a different story on the
    same subject (the pool holds distinct stories only)."""
    names = _names(story)
    others = [s for s in pool if s.category == story.category and s.name != story.name]
    return max(others, key=lambda s: (len(names & _names(s)), s.name))


# --- the kinds of copies ------------------------------------------------------------------------

_OUTLETS = [
    ("Reuters", "LONDON (Reuters) - ", ["(Reporting by {a}; Editing by {b})",
                                        "© 2005 Reuters. All rights reserved. Republication or redistribution "
                                        "of Reuters content is expressly prohibited."]),
    ("Associated Press", "LONDON (AP) — ", ["Copyright 2005 The Associated Press. All rights reserved. This "
                                            "material may not be published, broadcast, rewritten or "
                                            "redistributed."]),
    ("The Daily Courier", "", ["Follow {a} on Twitter for more business news.",
                               "Share this article: Facebook | Twitter | Email",
                               "© The Daily Courier 2005"]),
    ("World Wire", "", ["Distributed by World Wire. Copyright 2005.", "Related: More stories from our newsroom"]),
]
_PEOPLE = ["Sarah Jones", "Mark Evans", "Priya Patel", "Tom Okafor", "Lena Fischer", "James Wright"]
_HEADLINE_LEADS = ["UPDATE 1-", "Analysis: ", "", "WIRE: ", "Report: "]
_HEADLINE_TAILS = ["", " - sources", " | World Wire", ", reports say", " (update)"]


def syndicated(story: Story, rng: random.Random) -> str:
    """Another headline, another outlet's byline, dateline and footer around the same text."""
    outlet, dateline, footer = rng.choice(_OUTLETS)
    author, editor = rng.sample(_PEOPLE, 2)
    headline = rng.choice(_HEADLINE_LEADS) + story.title + rng.choice(_HEADLINE_TAILS)
    header = [f"By {author}, {outlet}", f"Published {rng.randint(1, 28)} February 2005"]
    paragraphs = [dateline + story.paragraphs[0], *story.paragraphs[1:]]
    footer_lines = [line.format(a=author, b=editor) for line in footer]
    return "\n\n".join([headline, "\n".join(header), *paragraphs, "\n".join(footer_lines)]) + "\n"


_SUBSTITUTES = ["also", "now", "said", "recently", "new", "major", "some", "several", "the", "further",
                "early", "later", "reported", "large", "key", "firm", "group", "year", "week", "still"]


def copy_edited(story: Story, rng: random.Random, rate: float = 0.05) -> str:
    """A few words changed: about `rate` of the words replaced, dropped or given a neighbour."""
    paragraphs = []
    for paragraph in story.paragraphs:
        words = []
        for word in paragraph.split():
            roll = rng.random()
            if roll < rate / 2:
                words.append(rng.choice(_SUBSTITUTES))
            elif roll < rate * 3 / 4:
                continue
            elif roll < rate:
                words.extend([word, rng.choice(_SUBSTITUTES)])
            else:
                words.append(word)
        paragraphs.append(" ".join(words))
    return story.title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def trimmed(story: Story, rng: random.Random) -> str:
    """The last paragraph cut and an "updated" line added, as a desk does when a story is revised."""
    updated = f"Updated: {rng.randint(8, 22):02d}:{rng.randint(0, 59):02d} GMT, {rng.randint(1, 28)} February 2005"
    kept = story.paragraphs[:-1] if len(story.paragraphs) > 1 else story.paragraphs
    paragraphs = [updated, *kept] if rng.random() < 0.5 else [*kept, updated]
    return story.title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def _curly_quotes(text: str) -> str:
    text = re.sub(r'(^|[\s(\[])"', "\\1\u201c", text)
    text = text.replace('"', "\u201d")
    text = re.sub(r"(^|[\s(\[])'", "\\1\u2018", text)
    return text.replace("'", "\u2019")


def rewrapped(story: Story, rng: random.Random) -> str:
    """Hard-wrapped at 70 columns (breaking at hyphens too, as textwrap does) with curly quotes."""
    paragraphs = [textwrap.fill(_curly_quotes(p), width=70) for p in story.paragraphs]
    return _curly_quotes(story.title) + "\n\n" + "\n\n".join(paragraphs) + "\n"


COPY_KINDS: dict[str, Callable[[Story, random.Random], str]] = {
    "syndicated": syndicated,
    "copy_edit": copy_edited,
    "trimmed": trimmed,
    "rewrap": rewrapped,
}


def synthetic_story(pool: list[Story], rng: random.Random, name: str, rewrite: float = 0.3) -> Story:
    """A story no one filed, for a large synthetic history: sentences of several stories of one
    category, shuffled, with `rewrite` of their words swapped for other words of the same sentences'
    stories. Recombined sentences alone would recur in dozens of stories of a large history (the
    corpus has ~25,000 sentences), which real news does not do; the rewrite makes them distinct
    while keeping the corpus' words and their frequencies."""
    category = rng.choice(sorted({s.category for s in pool}))
    donors = rng.sample([s for s in pool if s.category == category], 6)
    vocabulary = [w for d in donors for p in d.paragraphs for w in p.split()]
    sentences = list(itertools.chain.from_iterable(
        re.split(r"(?<=[.!?])\s+", rng.choice(d.paragraphs)) for d in donors))
    rng.shuffle(sentences)
    rewritten = [" ".join(rng.choice(vocabulary) if rng.random() < rewrite else w for w in sentence.split())
                 for sentence in sentences]
    paragraphs = [" ".join(rewritten[i : i + 3]) for i in range(0, len(rewritten), 3)]
    return Story(f"{category}/{name}", donors[0].title, paragraphs)
