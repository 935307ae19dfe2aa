"""Direct quotes and who said them, from the NER entities the pipeline already has.

No dependency parse (it would halve spaCy's speed): quote marks are paired by their position
(which side of a word they touch), and a quote's speaker is found from speech-verb cues next to it,
the entities around the cue, and the sentence it sits in.

    >>> [q] = find_quotes('"We will fight," he said, "to the end."', [])
    >>> q.quote, q.cue
    ('We will fight, to the end.', 'said')

What counts as a direct quote: quoted words with a speech cue beside them or in their sentence
("…," Smith said / Smith said: "…" / said Smith / according to Smith, "…" / Smith said the plan was
"dead on arrival"), and full quoted sentences that carry on the words of the speaker before them.
A short quoted phrase with no cue (a "special operation") is a scare quote and is left out, and so
is a phrase in title case (a name or a title, not speech).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.outlets import outlet_name
from tasks.records import Entity, Quote

_OPENERS = frozenset("“„«‹‘‚")
_CLOSERS = frozenset("”»›’")
_FAMILY = {'"': "double", "“": "double", "”": "double", "„": "double",
           "«": "guillemet", "»": "guillemet", "‹": "guillemet", "›": "guillemet",
           "'": "single", "‘": "single", "’": "single", "‚": "single"}
_MARK_RE = re.compile("[\"“”„«»‹›'‘’‚]")
# A mark may open a quote after these (besides whitespace and the start of the text) ...
_BEFORE_OPEN = frozenset("([{—–-/")
# ... and close one before these (besides whitespace and the end of the text).
_AFTER_CLOSE = frozenset(".,;:!?)]}—–-")

# Speech cues: verbs of saying, in the forms news uses, and a few phrases.
_CUE_VERBS = r"""said says say saying told tells telling added adds asked asks explained explains
    insisted insists stressed stresses warned warns argued argues noted notes remarked remarks
    admitted admits claimed claims declared declares announced announces replied replies continued
    wrote writes commented comments observed observes suggested suggests agreed agrees acknowledged
    acknowledges recalled recalls conceded concedes confirmed confirms urged urges predicted
    predicts promised promises vowed vows boasted boasts complained complains joked jokes
    pleaded pleads quipped quips responded responds answered answers reported reports""".split()
_CUE_ALTERNATION = (r"according\s+to|(?:was|were)\s+quoted\s+as\s+saying|in\s+a\s+statement|told\s+reporters|"
                    + "|".join(_CUE_VERBS))
_CUE_RE = re.compile(r"\b(?:" + _CUE_ALTERNATION + r")\b", re.IGNORECASE)
# Words that may stand between a subject and its cue ("Mr Lush also said", "she has told").
_AUXILIARY_RE = re.compile(r"(?:\s+(?:has|have|had|also|later|then|once|further|previously|recently|"
                           r"again|earlier|repeatedly|publicly|simply|just|is|was|were|would|will))*\s*$",
                           re.IGNORECASE)
_PRONOUNS = {"he": "PERSON", "she": "PERSON", "it": "ORG", "they": None, "i": None, "we": None}
_PRONOUN_BEFORE_RE = re.compile(r"\b(he|she|it|they|i|we)\s*$", re.IGNORECASE)
_PRONOUN_AFTER_RE = re.compile(r"^\s*(he|she|it|they)\b", re.IGNORECASE)
# Nouns that name a speaker without naming them: people with a title the article may give a
# name ("the prime minister said"), organisations ("the company said"), and nobody in particular.
_TITLE_NOUNS = r"""president|prime\s+minister|chancellor|minister|secretary|chairman|chairwoman|
    chair|chief\s+executive|executive|governor|mayor|senator|judge|coach|manager|director|
    commissioner|ambassador|general|premier|king|queen|prince|princess|pope|leader|founder|
    editor|singer|actor|actress|star|conductor|producer|author|boss|head|spokesman|spokeswoman|
    spokesperson|analyst|official|source|expert|economist|company|firm|group|bank|agency|
    organisation|organization|government|ministry|department|report|statement|survey|study|band"""
_TITLE_ALTERNATION = re.sub(r"\s+", "", _TITLE_NOUNS)
_NOMINAL_RE = re.compile(
    r"\b(the|a|an|its|his|her|their|our|[A-Z][\w&.'’-]*['’]s)\s+(?:[\w-]+\s+){0,3}?(" + _TITLE_ALTERNATION
    + r")\s*,?\s*$",
    re.IGNORECASE,
)
_NOMINAL_AFTER_RE = re.compile(
    r"^\s*(the|a|an|its|his|her|their|our)\s+(?:[\w-]+\s+){0,3}?(" + _TITLE_ALTERNATION + r")\b",
    re.IGNORECASE,
)
_COMPANY_NOUNS = frozenset("company firm group bank agency organisation organization".split())
_UNNAMED_NOUNS = frozenset(
    "spokesman spokeswoman spokesperson analyst official source expert economist report statement survey study"
    .split()
)
# Who can speak: people, organisations, and countries or cities ("Russia said", "Beijing warned").
_SPEAKER_LABELS = ("PERSON", "ORG", "GPE")
# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st gen prof sen rep gov lt col capt sgt jr sr no vs inc corp co ltd mt ft rev fr".split()
)
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s)")
_WORD_RE = re.compile(r"[\w'’-]+")
# The longest text read on either side of a quote for its attribution, and how far back "he"
# may find the one it stands for.
_WINDOW = 200
_NEARBY = 1500
# A quoted phrase shorter than this needs a cue right beside it to count as a quote.
_MIN_PARTIAL_WORDS = 3
# A quote with no cue of its own carries on the previous speaker's words only when it is a
# sentence of at least this many words, and that speaker spoke within this many paragraphs.
_MIN_CONTINUATION_WORDS = 4
_CONTINUATION_PARAGRAPHS = 2


@dataclass
class _Span:
    """One quote while it is being attributed: its parts (a quote split by its attribution, or
    running over paragraphs, has several), each a (start, end) range of `body` without the marks."""

    parts: list[tuple[int, int]]
    open_mark: int  # offset of its opening mark
    close_mark: int  # offset just past its closing mark (or its end, when it was never closed)
    paragraph: int  # where its last part is

    @property
    def start(self) -> int:
        return self.parts[0][0]

    @property
    def end(self) -> int:
        return self.parts[-1][1]


@dataclass(frozen=True)
class _Attribution:
    speaker: str | None
    label: str | None
    cue: str | None


def _role(body: str, i: int) -> str | None:
    """Whether the mark at `body[i]` can open a quote, close one, either, or is no quote mark
    (an apostrophe, or a mark with spaces on both sides)."""
    ch = body[i]
    prev = body[i - 1] if i else " "
    nxt = body[i + 1] if i + 1 < len(body) else " "
    if ch in "'’" and prev.isalnum() and (nxt.isalnum() or ch == "’" and nxt in "s"):
        return None  # an apostrophe: don't, it's
    can_open = (prev.isspace() or prev in _BEFORE_OPEN) and not nxt.isspace()
    can_close = (nxt.isspace() or nxt in _AFTER_CLOSE) and not prev.isspace()
    if ch in _OPENERS or ch in _CLOSERS and ch != "’":
        # Curly marks and guillemets say their direction, except where a language turns them
        # round (German „…“ and »…«): then the side of the word they touch decides.
        if can_close and not can_open and ch in _OPENERS:
            return "close"
        if can_open and not can_close and ch in _CLOSERS:
            return "open"
        return "open" if ch in _OPENERS else "close"
    if ch == "’":
        return "close" if can_close or not prev.isspace() else None
    if can_open and not can_close:
        return "open"
    if can_close and not can_open:
        return "close"
    if not prev.isspace() and not nxt.isspace():
        return "either"  # `."If` or `word"word`: the quote state decides
    return None


def _paragraph_starts(body: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\n\s*", body)]


def _pair(body: str, marks: list[tuple[int, str]], paragraphs: list[int], *, recover: bool) -> list[_Span]:
    """Pair one family's marks into quotes. With `recover`, a quote left open is closed where the
    next quote opens or its paragraph ends (unbalanced marks lose no other quote); a quote whose
    paragraph ends open and whose next paragraph opens with a mark runs on into it."""
    spans: list[_Span] = []
    current: _Span | None = None

    def paragraph_of(pos: int) -> int:
        return bisect.bisect_right(paragraphs, pos) - 1

    def paragraph_end(index: int) -> int:
        end = paragraphs[index + 1] if index + 1 < len(paragraphs) else len(body)
        return len(body[:end].rstrip())

    def close_open(at: int) -> None:
        nonlocal current
        if current is not None and recover:
            start, _ = current.parts[-1]
            end = len(body[:at].rstrip())
            if end > start:
                current.parts[-1] = (start, end)
                current.close_mark = end
                spans.append(current)
        current = None

    for pos, role in marks:
        par = paragraph_of(pos)
        if current is not None and par != current.paragraph:
            # It runs on when the next paragraph opens with the same mark, and the quote is of
            # whole sentences (a phrase quoted mid-sentence and left open does not).
            runs_on = (par == current.paragraph + 1 and role in ("open", "either")
                       and body[paragraphs[par]:pos].strip() == "" and body[pos] == body[current.open_mark]
                       and body[current.parts[0][0]:current.parts[0][0] + 1].isupper())
            if runs_on and recover:
                start, _ = current.parts[-1]
                current.parts[-1] = (start, paragraph_end(current.paragraph))
                current.parts.append((pos + 1, pos + 1))
                current.paragraph = par
                continue
            close_open(paragraph_end(current.paragraph))
        if current is None:
            if role in ("open", "either"):
                current = _Span([(pos + 1, pos + 1)], pos, pos + 1, par)
            continue
        if role in ("close", "either"):
            start, _ = current.parts[-1]
            if pos > start:
                current.parts[-1] = (start, pos)
                current.close_mark = pos + 1
                spans.append(current)
            current = None
        else:
            close_open(pos)
            current = _Span([(pos + 1, pos + 1)], pos, pos + 1, par)
    if current is not None:
        close_open(paragraph_end(current.paragraph))
    return spans


def _quote_spans(body: str) -> list[_Span]:
    """Every quoted span of `body`, in order: double quotes and guillemets, then single quotes
    outside them (a single quote inside a double one is a quote within the quote)."""
    paragraphs = _paragraph_starts(body)
    marks: dict[str, list[tuple[int, str]]] = {"double": [], "guillemet": [], "single": []}
    for match in _MARK_RE.finditer(body):
        role = _role(body, match.start())
        if role is not None:
            marks[_FAMILY[match.group()]].append((match.start(), role))
    spans = _pair(body, marks["double"], paragraphs, recover=True)
    spans += _pair(body, marks["guillemet"], paragraphs, recover=True)
    spans.sort(key=lambda s: s.open_mark)
    # Guillemets inside a double quote (or the reverse) are quotes within the quote.
    outer: list[_Span] = []
    for span in spans:
        if not outer or span.open_mark >= outer[-1].close_mark:
            outer.append(span)
    inside = [(s.open_mark, s.close_mark) for s in outer]
    starts = [a for a, _ in inside]

    def covered(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and pos < inside[i][1]

    # Straight single marks are apostrophes as often as quotes: a single quote never left open
    # is taken, one left open is not.
    singles = [(pos, role) for pos, role in marks["single"] if not covered(pos)]
    outer += _pair(body, singles, paragraphs, recover=False)
    outer.sort(key=lambda s: s.open_mark)
    return outer


class _Context:
    """What attribution needs to know of one article: its entities outside quotes (a name inside
    a quote is not who speaks it), titles given to people, and the speakers found so far."""

    def __init__(self, body: str, entities: Sequence[Entity], spans: list[_Span]):
        self.body = body
        quoted = [(s.open_mark, s.close_mark) for s in spans]
        starts = [a for a, _ in quoted]

        def inside_quote(entity: Entity) -> bool:
            i = bisect.bisect_right(starts, entity.start_char) - 1
            return i >= 0 and entity.start_char < quoted[i][1]

        self.entities = [e for e in entities if e.label in _SPEAKER_LABELS and not inside_quote(e)]
        self.entity_starts = [e.start_char for e in self.entities]
        self.titles = _titles(body, self.entities)
        self.speakers: list[tuple[int, _Attribution]] = []  # (offset, attribution) of each named speaker

    def entities_in(self, lo: int, hi: int) -> list[Entity]:
        i = bisect.bisect_left(self.entity_starts, lo)
        found = []
        while i < len(self.entities) and self.entities[i].end_char <= hi:
            found.append(self.entities[i])
            i += 1
        return found

    def last_named(self, pos: int, label: str | None) -> _Attribution:
        """The one last named as a speaker, or as a subject, before `pos`: who "he said" (label
        PERSON) or "it added" (ORG) stands for, or whose words a quote with no cue carries on
        (label None: the last speaker whoever it was, unless a person was named since). Falls back
        to the last mention with that label."""
        speaker = next(((at, a) for at, a in reversed(self.speakers) if at < pos and (
            label is None or a.label == label or label == "PERSON" and a.label != "ORG")), None)
        label = label or "PERSON"
        i = bisect.bisect_left(self.entity_starts, pos) - 1
        nearest = None
        while i >= 0 and self.entities[i].start_char > pos - _NEARBY and (
                speaker is None or self.entities[i].start_char > speaker[0]):
            entity = self.entities[i]
            if entity.label == label and entity.end_char <= pos:
                nearest = nearest or entity
                if _is_subject(self.body, entity):
                    return _Attribution(entity.name, label, None)
            i -= 1
        if speaker is not None:
            return speaker[1]
        return _Attribution(nearest.name, label, None) if nearest else _NOBODY

    def full_name(self, attribution: _Attribution) -> _Attribution:
        """A speaker named by one word that is the first or last word of exactly one person of
        the article is that person ("Kechiche", even where NER took it for an ORG)."""
        name = attribution.speaker
        if name is None or " " in name or attribution.label not in ("PERSON", "ORG", None):
            return attribution
        people = {e.name for e in self.entities if e.label == "PERSON" and e.name != name
                  and name in (e.name.split(" ")[0], e.name.split(" ")[-1])}
        if len(people) != 1:
            return attribution
        return _Attribution(people.pop(), "PERSON", attribution.cue)

    def main_org_before(self, pos: int) -> _Attribution:
        """The organisation named most often before `pos` (the latest of equals): what "the
        company said" stands for."""
        counts: dict[str, int] = {}
        latest: dict[str, int] = {}
        for entity in self.entities_in(0, pos):
            if entity.label == "ORG" and outlet_name(entity.name, "ORG") is None:
                counts[entity.name] = counts.get(entity.name, 0) + 1
                latest[entity.name] = entity.start_char
        if not counts:
            return _NOBODY
        name = max(counts, key=lambda n: (counts[n], latest[n]))
        return _Attribution(name, "ORG", None)


_NOBODY = _Attribution(None, None, None)
_CLAUSE_LEAD_RE = re.compile(r"^\s*(?:(?:but|and|however|meanwhile|still|now|so|yet|also|earlier|later)\b,?\s*)*"
                             r"(?:[\w&.'’-]+\s+){0,6}$", re.IGNORECASE)
_FOLLOWED_BY_CUE_RE = re.compile(r"^(?:\s*,[^,.;]{0,80},)?(?:\s+(?:has|have|had|also|later|then|who))*\s+(?:"
                                 + _CUE_ALTERNATION + r")\b|^\s*,?\s*who\b", re.IGNORECASE)


def _is_subject(body: str, entity: Entity) -> bool:
    """Whether a mention is the subject of its sentence or clause ("Mr Adams believed", "At
    home, Mr Toshitsune keeps") or of a cue ("Kirby, the Pentagon's spokesman, said"; "said
    Mr Flynn"; "Levine, who"). A mention ending its clause ("not enough for Mr Sarkozy.") is not."""
    after = body[entity.end_char : entity.end_char + 120]
    if after[:1] in "'’":
        return False  # "Jackson's lawyer": a possessive modifies the subject, it is not one
    before = body[max(0, entity.start_char - 30) : entity.start_char]
    if _FOLLOWED_BY_CUE_RE.match(after) or _PRECEDED_BY_CUE_RE.search(before):
        return True
    rest = after.lstrip()
    if before.rstrip().endswith(",") and rest.startswith(",") and _FOLLOWED_BY_CUE_RE.match(rest[1:]):
        return True  # "the BBC's correspondent, Rachel Harvey, told"
    start = _sentence_start(body, max(0, entity.start_char - 200), entity.start_char)
    lead = body[start : entity.start_char]
    clause_lead = lead.rsplit(",", 1)[-1]
    if re.search(r"\b(?:the|a|an)\s+$", clause_lead, re.IGNORECASE):
        return False  # "The Lightpointe laser bridges work": a name used as a modifier
    return _CLAUSE_LEAD_RE.match(clause_lead) is not None and (
        "," not in lead or _FOLLOWED_BY_VERB_RE.match(after) is not None)


# Inverted cues name their speaker after them ("said Mr Flynn"); "told"/"asked" name the listener.
_PRECEDED_BY_CUE_RE = re.compile(r"\b(?:said|says|added|adds|explained|insisted|stressed|warned|continued|noted|"
                                 r"according\s+to)\s+(?:[\w.'’&-]+\s+){0,5}$", re.IGNORECASE)
_PREPOSITION_BEFORE_RE = re.compile(r"\b(?:of|at|from|for|with|in|by|on|to)\s+(?:the\s+)?$", re.IGNORECASE)
_FOLLOWED_BY_VERB_RE = re.compile(r"^\s+(?!(?:and|or|of|in|at|on|for|to|with|from|by|as|the|a|an)\b)[a-z]+\b")


def _titles(body: str, entities: Sequence[Entity]) -> dict[str, str]:
    """Title -> the one person the article gives it to ("Prime Minister Ephraim Inoni", "the
    country's new president, Mikhail Saakashvili"); a title given to two people is left out, and
    a former one does not count."""
    found: dict[str, set[str]] = {}
    for entity in entities:
        if entity.label != "PERSON":
            continue
        before = body[max(0, entity.start_char - 60) : entity.start_char].lower()
        match = _TITLE_BEFORE_NAME_RE.search(before)
        if match and not re.search(r"\b(?:former|ex-|late|then)\s*$", before[: match.start(1)]):
            found.setdefault(_title_key(match.group(1)), set()).add(entity.name)
    return {title: names.pop() for title, names in found.items() if len(names) == 1}


_TITLE_BEFORE_NAME_RE = re.compile(r"\b(" + _TITLE_ALTERNATION + r")(?:\s+of\s+[\w\s]{1,30})?[\s,]*$", re.IGNORECASE)


def _title_key(noun: str) -> str:
    return re.sub(r"\s+", " ", noun.lower())


def _sentence_ends(body: str, lo: int, hi: int):
    """Offsets just past each sentence end in body[lo:hi] ("Mr." and initials end none)."""
    for match in _SENTENCE_END_RE.finditer(body, lo, hi):
        word = body[max(lo, match.start() - 6) : match.start()].rsplit(None, 1)[-1:] or [""]
        token = word[0].lower().strip("(\"'“‘")
        if token not in _ABBREVIATIONS and not (len(token) == 1 and token.isalpha()):
            yield match.end()


def _sentence_start(body: str, lo: int, hi: int) -> int:
    """Where the sentence holding `hi` starts, not before `lo`."""
    return max(_sentence_ends(body, lo, hi), default=lo)


def _words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _is_title_case(text: str) -> bool:
    """A name or a title ("State of Agricultural Commodity Markets 2004"), not speech."""
    words = _WORD_RE.findall(text)
    return bool(words) and text.rstrip()[-1:] not in ".,!?" and all(
        w[0].isupper() or w[0].isdigit() or w.lower() in ("of", "the", "and", "in", "a", "for", "on") for w in words)


def _resolve_pronoun(ctx: _Context, pronoun: str, pos: int) -> _Attribution:
    label = _PRONOUNS[pronoun.lower()]
    return _NOBODY if label is None else ctx.last_named(pos, label)


def _resolve_nominal(ctx: _Context, noun: str, determiner: str, pos: int) -> _Attribution:
    key = _title_key(noun)
    if key in _UNNAMED_NOUNS or determiner.lower() in ("a", "an"):
        return _NOBODY
    if key in _COMPANY_NOUNS:
        return ctx.main_org_before(pos)
    name = ctx.titles.get(key)
    return _Attribution(name, "PERSON", None) if name else _NOBODY


def _as_attribution(entity: Entity) -> _Attribution:
    return _Attribution(entity.name, entity.label, None)


def _subject_before(ctx: _Context, lo: int, cue_start: int) -> _Attribution:
    """The speaker of a cue from the text of its clause before it: "Ed Silliere, analyst at Energy
    Merchant, added"; "chairman Richard Parsons said"; "he said"; "the prime minister said"."""
    body = ctx.body
    head = body[lo:cue_start]
    head = head[: len(head) - len(_AUXILIARY_RE.search(head).group())]
    head_end = lo + len(head)
    pronoun = _PRONOUN_BEFORE_RE.search(head)
    if pronoun:
        return _resolve_pronoun(ctx, pronoun.group(1), lo + pronoun.start())
    entities = [e for e in ctx.entities_in(lo, head_end) if e.label in _SPEAKER_LABELS]
    adjacent = entities[-1] if entities and not body[entities[-1].end_char : head_end].strip(" ,") \
        and not _PREPOSITION_BEFORE_RE.search(body[lo : entities[-1].start_char]) else None
    opening = entities[0] if entities and _CLAUSE_LEAD_RE.match(body[lo : entities[0].start_char]) \
        and "," not in body[lo : entities[0].start_char] else None
    # "Secretary John Snow said", "the UN's coordinator, Jan Egeland, said", then "Ed Silliere,
    # analyst at Energy Merchant, added", then "the FAO said" and "Unilever, which owns Dove, said".
    for candidate in (adjacent, opening):
        if candidate is not None and candidate.label == "PERSON":
            return _as_attribution(candidate)
    for candidate in (adjacent, opening):
        if candidate is not None:
            return _as_attribution(candidate)
    nominal = _NOMINAL_RE.search(head)
    if nominal:
        return _resolve_nominal(ctx, nominal.group(2), nominal.group(1), lo + nominal.start())
    people = [e for e in entities if e.label == "PERSON"]
    if people:
        return _as_attribution(people[-1])
    if entities:
        return _as_attribution(entities[0])
    return _fallback_name(ctx, head.rstrip(" ,"), at_end=True)


def _subject_after(ctx: _Context, cue_end: int, hi: int) -> _Attribution:
    """The speaker named after an inverted cue ("said Nick Turner, analyst at Jefferies")."""
    body = ctx.body
    segments = _PHRASE_END_RE.split(body[cue_end:hi], maxsplit=2)
    tail_end = cue_end + len(segments[0])
    tail = body[cue_end:tail_end]
    pronoun = _PRONOUN_AFTER_RE.match(tail)
    if pronoun:
        return _resolve_pronoun(ctx, pronoun.group(1), cue_end)
    entities = [e for e in ctx.entities_in(cue_end, tail_end) if e.label in _SPEAKER_LABELS]
    people = [e for e in entities if e.label == "PERSON"]
    if not people and len(segments) > 1:  # "said Opera spokeswoman, Berit Hanson."
        appositive = [e for e in ctx.entities_in(tail_end, tail_end + 1 + len(segments[1])) if e.label == "PERSON"]
        if appositive and not body[tail_end + 1 : appositive[0].start_char].strip():
            people = appositive
    if people:
        return _as_attribution(people[-1])  # "said Sandvine's chief technology officer Marc Morin"
    nominal = _NOMINAL_AFTER_RE.match(tail)
    if nominal:
        return _resolve_nominal(ctx, nominal.group(2), nominal.group(1), cue_end)
    if entities:
        return _as_attribution(entities[0])
    return _fallback_name(ctx, tail, at_end=False)


# Where the phrase naming a speaker ends: punctuation, but not the full stop of an initial or "Mr.";
# and where the clause after a quote ends.
_FULL_STOP = r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bMrs)(?<!\bSt)\."
_PHRASE_END_RE = re.compile(r"[,;:!?]|" + _FULL_STOP)
_CLAUSE_END_RE = re.compile(r"[;!?]|" + _FULL_STOP + r"|,\s+(?:who|which|adding|saying|as|but|and)\b")
_CAPITALISED_RE = re.compile(r"(?:[A-Z][\w'’&-]*\.?\s+)*[A-Z][\w'’&-]+")
_TITLE_PREFIX_RE = re.compile(r"^(?:Mr|Mrs|Ms|Dr|Prof|Sir|Lord|Lady|Dame)\.?\s+")


def _fallback_name(ctx: _Context, text: str, *, at_end: bool) -> _Attribution:
    """A capitalised name NER missed right beside the cue ("said Mr R. Sridharan", "the Beige
    Book said"): the article's person of that surname if it has one, else the name as written."""
    matches = list(_CAPITALISED_RE.finditer(text))
    if not matches:
        return _NOBODY
    match = matches[-1] if at_end else matches[0]
    if text[match.end():].strip() if at_end else text[: match.start()].strip(" ").lower() not in ("", "the"):
        return _NOBODY
    titled = _TITLE_PREFIX_RE.match(match.group())
    name = match.group()[titled.end():] if titled else match.group()
    surname = name.split()[-1]
    for entity in ctx.entities:
        if entity.label == "PERSON" and entity.name.split()[-1] == surname:
            return _as_attribution(entity)
    return _Attribution(name, "PERSON" if titled else None, None)


def _with_cue(attribution: _Attribution, cue: str) -> _Attribution:
    return _Attribution(attribution.speaker, attribution.label, re.sub(r"\s+", " ", cue.lower()))


def _after_attribution(ctx: _Context, span: _Span, hi: int) -> tuple[_Attribution, int] | None:
    """`"…," Smith said` / `"…", said Smith`: a cue in the clause right after the quote. Returns it
    with where that clause ends. A quote ending a sentence (`"…." Smith said …`) has none: what
    follows it is the next sentence."""
    body = ctx.body
    lo = span.close_mark
    text = body[lo:hi]
    lead = len(text) - len(text.lstrip(" ,"))
    if "," not in text[:lead] and body[span.end - 1 : span.end] not in (",", "!", "?", "-", "—", "…"):
        return None
    clause = _CLAUSE_END_RE.split(text[lead:], maxsplit=1)[0]
    clause_end = lo + lead + len(clause.rstrip(" ,"))
    cue = _CUE_RE.search(body, lo + lead, clause_end)
    if cue is None or cue.start() - (lo + lead) > 120:
        return None
    if cue.start() == lo + lead:
        return _with_cue(_subject_after(ctx, cue.end(), clause_end), cue.group()), clause_end
    return _with_cue(_subject_before(ctx, lo + lead, cue.start()), cue.group()), clause_end


def _before_attribution(ctx: _Context, lo: int, hi: int) -> _Attribution | None:
    """`Smith said: "…"` / `according to Smith, "…"` / `Smith said the plan was "…"`: the last
    cue in body[lo:hi], the quote's sentence before it."""
    body = ctx.body
    cues = list(_CUE_RE.finditer(body, lo, hi))
    if not cues:
        return None
    cue = cues[-1]
    inverted = _subject_after(ctx, cue.end(), hi)
    if cue.group().lower() == "according to":
        return _with_cue(inverted, cue.group())  # "according to Smith,"
    clause_lo = lo
    for sep in re.finditer(r"[;:]|,\s+(?:but|and|while|as|although|though)\s", body[lo : cue.start()]):
        clause_lo = lo + sep.end()
    if not body[clause_lo : cue.start()].strip():
        return _with_cue(inverted, cue.group())
    subject = _subject_before(ctx, clause_lo, cue.start())
    if subject.label != "PERSON" and inverted.label == "PERSON" and body[cue.start() - 2 : cue.start()].strip() == ",":
        return _with_cue(inverted, cue.group())  # "the comments, said Smith, were"
    return _with_cue(subject, cue.group())


def _prefer_non_outlet(first: _Attribution, second: _Attribution | None) -> _Attribution:
    """An outlet that "reports" a quote is its channel, not its speaker: a speaker named in the
    sentence wins over it."""
    if (second is not None and second.speaker is not None and first.speaker is not None
            and outlet_name(first.speaker, first.label or "ORG") is not None):
        return second
    return first


def _text(body: str, span: _Span) -> str:
    return " ".join(body[s:e].strip() for s, e in span.parts)


def find_quotes(body: str, entities: Sequence[Entity]) -> list[Quote]:
    """The direct quotes of `body`, in order, each with its speaker's canonical name (as in
    `entities`, the article's NER mentions with canonical names), the speaker's label and the
    cue; speaker and label are None when the article does not tell who spoke."""
    spans = _quote_spans(body)
    if not spans:
        return []
    ctx = _Context(body, entities, spans)
    paragraphs = _paragraph_starts(body)
    quotes: list[Quote] = []
    last_paragraph = None  # of the previous quote
    i = 0
    while i < len(spans):
        span = spans[i]
        prev_end = spans[i - 1].close_mark if i else 0
        next_open = spans[i + 1].open_mark if i + 1 < len(spans) else len(body)
        par = bisect.bisect_right(paragraphs, span.open_mark) - 1
        par_start = paragraphs[par]
        last_par = bisect.bisect_right(paragraphs, span.end) - 1  # a quote may run over paragraphs
        par_end = paragraphs[last_par + 1] if last_par + 1 < len(paragraphs) else len(body)
        sentence_lo = _sentence_start(body, max(par_start, prev_end, span.open_mark - _WINDOW), span.open_mark)
        lead_in = body[sentence_lo : span.open_mark].strip()  # the sentence before the quote
        after = _after_attribution(ctx, span, min(next_open, par_end, span.close_mark + _WINDOW))
        before = _before_attribution(ctx, sentence_lo, span.open_mark)
        words = _words(_text(body, span))
        attribution = None
        if after is not None:
            attribution = _prefer_non_outlet(after[0], before)
            # "We will fight," he said, "to the end." — one quote split by its attribution.
            if (i + 1 < len(spans) and body[span.end - 1 : span.end] not in (".", "!", "?")
                    and re.fullmatch(r"\s*,\s*", body[after[1] : spans[i + 1].open_mark])):
                span = _Span(span.parts + spans[i + 1].parts, span.open_mark, spans[i + 1].close_mark, par)
                i += 1
        elif before is not None:
            attribution = before
        elif (previous := _before_attribution(ctx, _sentence_start(body, max(par_start, prev_end), sentence_lo - 1),
                                              sentence_lo)) is not None and previous.speaker is not None \
                and words >= _MIN_CONTINUATION_WORDS:
            # "Mr Armes warned that developers had to learn. "In some ways we ..."": the sentence
            # before the quote names who speaks it.
            attribution = previous
        elif lead_in.endswith(":"):
            attribution = ctx.last_named(span.open_mark, "PERSON")
        elif _text(body, span)[:1].isupper() and words >= _MIN_CONTINUATION_WORDS and (
                last_paragraph is not None and par - last_paragraph <= _CONTINUATION_PARAGRAPHS
                or not lead_in):
            # A sentence carrying on the words of the one last named as speaker or subject.
            attribution = ctx.last_named(span.open_mark, None) if last_paragraph is not None else _NOBODY
        text = _text(body, span)
        # A short phrase inside a sentence ("was "beyond disaster", she said") and a name or title
        # are not quotes; a short reply opening its sentence ("No," he said) is.
        partial = bool(lead_in) and not lead_in.endswith(":")
        if attribution is None or _is_title_case(text) or (words < _MIN_PARTIAL_WORDS and (partial or after is None)):
            i += 1
            continue
        attribution = ctx.full_name(attribution)
        quotes.append(Quote(text, attribution.speaker, attribution.label, attribution.cue, span.start, span.end))
        if attribution.speaker is not None:
            ctx.speakers.append((span.start, attribution))
        last_paragraph = par
        i += 1
    return quotes
