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
    pleaded pleads quipped quips responded responds answered answers reported reports
    described describes called calls""".split()
_CUE_RE = re.compile(
    r"\b(?:according\s+to|(?:was|were)\s+quoted\s+as\s+saying|in\s+a\s+statement|told\s+reporters|"
    r"(?:" + "|".join(_CUE_VERBS) + r"))\b",
    re.IGNORECASE,
)
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
_NOMINAL_RE = re.compile(
    r"\b(the|a|an|its|his|her|their|our|[A-Z][\w&.'’-]*['’]s)\s+(?:[\w-]+\s+){0,3}?("
    + re.sub(r"\s+", "", _TITLE_NOUNS).replace("\\s+", r"\s+") + r")\s*,?\s*$",
    re.IGNORECASE,
)
_NOMINAL_AFTER_RE = re.compile(
    r"^\s*(the|a|an|its|his|her|their|our)\s+(?:[\w-]+\s+){0,3}?("
    + re.sub(r"\s+", "", _TITLE_NOUNS).replace("\\s+", r"\s+") + r")\b",
    re.IGNORECASE,
)
_COMPANY_NOUNS = frozenset("company firm group bank agency organisation organization".split())
_UNNAMED_NOUNS = frozenset(
    "spokesman spokeswoman spokesperson analyst official source expert economist report statement survey study"
    .split()
)
_SPEAKER_LABELS = ("PERSON", "ORG", "GPE", "NORP")
# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st gen prof sen rep gov lt col capt sgt jr sr no vs inc corp co ltd mt ft rev fr".split()
)
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s)")
_WORD_RE = re.compile(r"[\w'’-]+")
# The longest text read on either side of a quote for its attribution.
_WINDOW = 200
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
    paragraph: int

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
    if ch in _OPENERS and ch != "’":
        return "open"
    if ch in _CLOSERS and ch != "’":
        return "close"
    can_open = (prev.isspace() or prev in _BEFORE_OPEN) and not nxt.isspace()
    can_close = (nxt.isspace() or nxt in _AFTER_CLOSE) and not prev.isspace()
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
            last_par = paragraph_of(current.parts[-1][0])
            runs_on = (par == last_par + 1 and role in ("open", "either")
                       and body[paragraphs[par]:pos].strip() == "")
            if runs_on and recover:
                start, _ = current.parts[-1]
                current.parts[-1] = (start, paragraph_end(last_par))
                current.parts.append((pos + 1, pos + 1))
                continue
            close_open(paragraph_end(last_par))
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
        close_open(paragraph_end(paragraph_of(current.parts[-1][0])))
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
    """What attribution needs to know of one article: its entities outside quotes, sentence ends."""

    def __init__(self, body: str, entities: Sequence[Entity], spans: list[_Span]):
        self.body = body
        quoted = [(s.open_mark, s.close_mark) for s in spans]
        starts = [a for a, _ in quoted]

        def inside_quote(entity: Entity) -> bool:
            i = bisect.bisect_right(starts, entity.start_char) - 1
            return i >= 0 and entity.start_char < quoted[i][1]

        self.entities = [e for e in entities if e.label in _SPEAKER_LABELS and not inside_quote(e)]
        self.entity_starts = [e.start_char for e in self.entities]
        self.titles = _titles(body, entities)

    def entities_in(self, lo: int, hi: int) -> list[Entity]:
        i = bisect.bisect_left(self.entity_starts, lo)
        found = []
        while i < len(self.entities) and self.entities[i].end_char <= hi:
            found.append(self.entities[i])
            i += 1
        return found

    def nearest_before(self, pos: int, label: str) -> Entity | None:
        i = bisect.bisect_left(self.entity_starts, pos) - 1
        while i >= 0:
            if self.entities[i].label == label and self.entities[i].end_char <= pos:
                return self.entities[i]
            i -= 1
        return None


def _titles(body: str, entities: Sequence[Entity]) -> dict[str, str]:
    """Title -> the one person the article gives it to ("Prime Minister Ephraim Inoni", "the
    country's new president, Mikhail Saakashvili"); a title given to two people is left out."""
    found: dict[str, set[str]] = {}
    for entity in entities:
        if entity.label != "PERSON":
            continue
        before = body[max(0, entity.start_char - 60) : entity.start_char].lower()
        for match in re.finditer(r"\b(" + re.sub(r"\s+", "", _TITLE_NOUNS).replace("\\s+", r"\s+") + r")\b",
                                 before):
            if match.end() >= len(before.rstrip(" ,")) - 1 or re.fullmatch(r"[\s,]*", before[match.end():]):
                found.setdefault(_title_key(match.group(1)), set()).add(entity.name)
    return {title: names.pop() for title, names in found.items() if len(names) == 1}


def _title_key(noun: str) -> str:
    return re.sub(r"\s+", " ", noun.lower())


def _sentence_start(body: str, lo: int, hi: int) -> int:
    """Where the sentence holding `hi` starts, not before `lo`."""
    start = lo
    for match in _SENTENCE_END_RE.finditer(body, lo, hi):
        word = body[max(lo, match.start() - 5) : match.start()].rsplit(None, 1)[-1:] or [""]
        token = word[0].lower().strip("(\"'“‘")
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            continue  # "Mr." and initials do not end a sentence
        start = match.end()
    return start


def _sentence_end(body: str, lo: int, hi: int) -> int:
    for match in _SENTENCE_END_RE.finditer(body, lo, hi):
        word = body[max(lo, match.start() - 5) : match.start()].rsplit(None, 1)[-1:] or [""]
        token = word[0].lower().strip("(\"'“‘")
        if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
            continue
        return match.end()
    return hi


def _words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _is_title_case(text: str) -> bool:
    words = _WORD_RE.findall(text)
    return bool(words) and all(w[0].isupper() or w[0].isdigit() or w.lower() in ("of", "the", "and", "in", "a")
                               for w in words)


def _resolve_pronoun(ctx: _Context, pronoun: str, pos: int) -> _Attribution:
    label = _PRONOUNS[pronoun.lower()]
    if label is None:
        return _Attribution(None, None, None)
    entity = ctx.nearest_before(pos, label)
    return _Attribution(entity.name if entity else None, label if entity else None, None)


def _resolve_nominal(ctx: _Context, noun: str, determiner: str, pos: int) -> _Attribution:
    key = _title_key(noun)
    if key in _UNNAMED_NOUNS or determiner.lower() in ("a", "an"):
        return _Attribution(None, None, None)
    if key in _COMPANY_NOUNS:
        entity = ctx.nearest_before(pos, "ORG")
        return _Attribution(entity.name if entity else None, "ORG" if entity else None, None)
    name = ctx.titles.get(key)
    return _Attribution(name, "PERSON" if name else None, None)


def _subject_before(ctx: _Context, lo: int, cue_start: int) -> _Attribution:
    """The speaker of a cue from the text of its clause before it ("Ed Silliere, analyst at
    Energy Merchant, added"; "he said"; "the prime minister said")."""
    body = ctx.body
    head = body[lo:cue_start]
    head = head[: len(head) - len(_AUXILIARY_RE.search(head).group())]
    pronoun = _PRONOUN_BEFORE_RE.search(head)
    if pronoun:
        return _resolve_pronoun(ctx, pronoun.group(1), lo + pronoun.start())
    entities = ctx.entities_in(lo, cue_start)
    if entities and entities[-1].end_char >= lo + len(head.rstrip(" ,")) - 1:
        last = entities[-1]
        if last.label in ("PERSON", "ORG") or not any(e.label == "PERSON" for e in entities):
            return _Attribution(last.name, last.label, None)
    nominal = _NOMINAL_RE.search(head)
    people = [e for e in entities if e.label == "PERSON"]
    if nominal and not people:
        return _resolve_nominal(ctx, nominal.group(2), nominal.group(1), lo + nominal.start())
    if people:
        return _Attribution(people[-1].name, "PERSON", None)
    if entities:
        return _Attribution(entities[-1].name, entities[-1].label, None)
    return _fallback_name(ctx, head.rstrip(" ,"), at_end=True)


def _subject_after(ctx: _Context, cue_end: int, hi: int) -> _Attribution:
    """The speaker named after an inverted cue ("said Nick Turner, analyst at Jefferies")."""
    body = ctx.body
    tail_end = cue_end + len(re.split(r"[,.;:!?]", body[cue_end:hi], maxsplit=1)[0])
    tail = body[cue_end:tail_end]
    pronoun = _PRONOUN_AFTER_RE.match(tail)
    if pronoun:
        return _resolve_pronoun(ctx, pronoun.group(1), cue_end)
    entities = ctx.entities_in(cue_end, tail_end)
    people = [e for e in entities if e.label == "PERSON"]
    if people:
        return _Attribution(people[0].name, "PERSON", None)
    nominal = _NOMINAL_AFTER_RE.match(tail)
    if nominal:
        return _resolve_nominal(ctx, nominal.group(2), nominal.group(1), cue_end)
    if entities:
        return _Attribution(entities[0].name, entities[0].label, None)
    return _fallback_name(ctx, tail, at_end=False)


_CAPITALISED_RE = re.compile(r"(?:[A-Z][\w'’-]*\.?\s+)*[A-Z][\w'’-]+")
_TITLE_PREFIX_RE = re.compile(r"^(?:Mr|Mrs|Ms|Dr|Prof|Sir|Lord|Lady|Dame)\.?\s+")


def _fallback_name(ctx: _Context, text: str, *, at_end: bool) -> _Attribution:
    """A capitalised name NER missed next to the cue ("Mr Sridharan"), matched to a person of the
    article by its last word when one has it."""
    matches = list(_CAPITALISED_RE.finditer(text))
    if not matches:
        return _Attribution(None, None, None)
    match = matches[-1] if at_end else matches[0]
    if at_end and match.end() < len(text.rstrip()):
        return _Attribution(None, None, None)
    if not at_end and text[: match.start()].strip():
        return _Attribution(None, None, None)
    name = match.group()
    titled = _TITLE_PREFIX_RE.match(name)
    name = name[titled.end():] if titled else name
    surname = name.split()[-1]
    for entity in ctx.entities:
        if entity.label == "PERSON" and entity.name.split()[-1] == surname:
            return _Attribution(entity.name, "PERSON", None)
    if titled:
        return _Attribution(name, "PERSON", None)
    return _Attribution(None, None, None)


def _with_cue(attribution: _Attribution, cue: str) -> _Attribution:
    return _Attribution(attribution.speaker, attribution.label, re.sub(r"\s+", " ", cue.lower()))


def _after_attribution(ctx: _Context, span: _Span, hi: int) -> tuple[_Attribution, int] | None:
    """`"…," Smith said` / `"…," said Smith`: a cue right after the quote. Returns it with where
    its clause ends."""
    body = ctx.body
    lo = span.close_mark
    text = body[lo:hi]
    lead = len(text) - len(text.lstrip(" ,"))
    clause = re.split(r"[.;!?]|,\s*[\"“‘«]|,\s+(?:who|which|adding|saying|as|but|and)\b", text[lead:], maxsplit=1)[0]
    clause_end = lo + lead + len(clause)
    cue = _CUE_RE.search(body, lo + lead, clause_end)
    if cue is None or cue.start() - (lo + lead) > 80:
        return None
    ends_sentence = body[span.end - 1 : span.end] in (".",) and body[lo + lead : lo + lead + 1].isupper()
    if cue.start() == lo + lead:
        if cue.group().lower() == "according to" or not ends_sentence or True:
            return _with_cue(_subject_after(ctx, cue.end(), clause_end), cue.group()), clause_end
    if ends_sentence:
        return None
    return _with_cue(_subject_before(ctx, lo + lead, cue.start()), cue.group()), clause_end


def _before_attribution(ctx: _Context, span: _Span, lo: int) -> _Attribution | None:
    """`Smith said: "…"` / `according to Smith, "…"` / `Smith said the plan was "…"`: the last
    cue in the quote's sentence before it."""
    body = ctx.body
    cues = list(_CUE_RE.finditer(body, lo, span.open_mark))
    if not cues:
        return None
    cue = cues[-1]
    if cue.group().lower() == "according to":
        return _with_cue(_subject_after(ctx, cue.end(), span.open_mark), cue.group())
    clause_lo = lo
    for sep in re.finditer(r"[;:]|,\s+(?:but|and|while|as|although|though)\s", body[lo : cue.start()]):
        clause_lo = lo + sep.end()
    subject = _subject_before(ctx, clause_lo, cue.start())
    if subject.speaker is None and not body[clause_lo : cue.start()].strip():
        subject = _subject_after(ctx, cue.end(), span.open_mark)
    return _with_cue(subject, cue.group())


def _prefer_non_outlet(first: _Attribution, second: _Attribution | None) -> _Attribution:
    """An outlet that "reports" a quote is its channel, not its speaker: a speaker named in the
    sentence wins over it."""
    if (second is not None and second.speaker is not None and first.speaker is not None
            and outlet_name(first.speaker, first.label or "ORG") is not None):
        return second
    return first


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
    last: tuple[int, _Attribution] | None = None  # paragraph and attribution of the previous quote
    i = 0
    while i < len(spans):
        span = spans[i]
        prev_end = spans[i - 1].close_mark if i else 0
        next_open = spans[i + 1].open_mark if i + 1 < len(spans) else len(body)
        par = bisect.bisect_right(paragraphs, span.open_mark) - 1
        par_start = paragraphs[par]
        par_end = paragraphs[par + 1] if par + 1 < len(paragraphs) else len(body)
        sentence_lo = _sentence_start(body, max(par_start, prev_end, span.open_mark - _WINDOW), span.open_mark)
        after_hi = min(next_open, par_end, span.close_mark + _WINDOW)
        after = _after_attribution(ctx, span, after_hi)
        before = _before_attribution(ctx, span, sentence_lo)
        text = " ".join(body[s:e].strip() for s, e in span.parts)
        words = _words(text)
        attribution: _Attribution | None
        if after is not None:
            attribution = _prefer_non_outlet(after[0], before)
            clause_end = after[1]
            # "We will fight," he said, "to the end." — one quote split by its attribution.
            if (i + 1 < len(spans) and body[span.end - 1 : span.end] not in (".", "!", "?")
                    and re.fullmatch(r"\s*,\s*", body[clause_end:spans[i + 1].open_mark])):
                nxt = spans[i + 1]
                span = _Span(span.parts + nxt.parts, span.open_mark, nxt.close_mark, span.paragraph)
                text = " ".join(body[s:e].strip() for s, e in span.parts)
                words = _words(text)
                i += 1
        elif before is not None and (words >= _MIN_PARTIAL_WORDS or body[sentence_lo:span.open_mark].rstrip()
                                     .endswith(":")):
            attribution = before
        else:
            attribution = None
        if attribution is not None and words < _MIN_PARTIAL_WORDS and after is None \
                and not body[sentence_lo:span.open_mark].rstrip().endswith(":"):
            attribution = None
        if attribution is None:
            full_sentence = text[:1].isupper() and words >= _MIN_CONTINUATION_WORDS
            colon = body[max(par_start, prev_end):span.open_mark].rstrip().endswith(":")
            if colon and words >= _MIN_PARTIAL_WORDS:
                person = ctx.nearest_before(span.open_mark, "PERSON")
                attribution = _Attribution(person.name if person else None, "PERSON" if person else None, None)
            elif full_sentence and not _is_title_case(text):
                previous_sentence = _before_attribution(
                    ctx, span, _sentence_start(body, max(par_start, prev_end), max(par_start, sentence_lo - 1)))
                if previous_sentence is not None and previous_sentence.speaker is not None:
                    attribution = previous_sentence
                elif last is not None and par - last[0] <= _CONTINUATION_PARAGRAPHS:
                    attribution = last[1]
                else:
                    attribution = _Attribution(None, None, None)
        if attribution is not None and (words >= _MIN_PARTIAL_WORDS or after is not None) \
                and not (_is_title_case(text) and words < _MIN_CONTINUATION_WORDS and after is None):
            quotes.append(Quote(text, attribution.speaker, attribution.label, attribution.cue,
                                span.start, span.end))
            last = (par, attribution)
        i += 1
    return quotes
