"""tasks.quotes on real spaCy NER (en_core_web_sm, NER only, as ingest runs it): no mocks.

Each case is a small article; assertions are about behaviour (which words are a quote, who said
them), not about one model's every entity.
"""

from __future__ import annotations

import pytest

from tasks.enrich import enrich_bodies
from tasks.quotes import find_quotes
from tasks.records import Quote

pytest.importorskip("spacy")


def quotes_of(body: str) -> list[Quote]:
    [enrichment] = enrich_bodies([body], n_process=1)
    return enrichment.quotes


def only_quote(body: str) -> Quote:
    quotes = quotes_of(body)
    assert len(quotes) == 1, quotes
    return quotes[0]


def assert_offsets(body: str, quote: Quote) -> None:
    first_word = quote.quote.split()[0]
    assert body[quote.start_char : quote.end_char].startswith(first_word)
    assert quote.quote.split()[-1] in body[quote.start_char : quote.end_char]


# --- quote marks of every style ------------------------------------------------------------------


@pytest.mark.parametrize(
    "opening,closing",
    [('"', '"'), ("“", "”"), ("‘", "’"), ("'", "'"), ("«", "»"), ("„", "“")],
    ids=["straight", "curly", "curly-single", "straight-single", "guillemets", "low-high"],
)
def test_quote_marks_every_style(opening, closing):
    body = (f"Talks resumed in Geneva on Monday. {opening}We are not going to give up on this deal now,{closing} "
            "Angela Merkel said after the meeting.")
    quote = only_quote(body)
    assert quote.quote == "We are not going to give up on this deal now,"
    assert quote.speaker == "Angela Merkel" and quote.speaker_label == "PERSON"
    assert quote.cue == "said"
    assert body[quote.start_char : quote.end_char] == quote.quote


def test_quote_apostrophes_inside_are_not_marks():
    body = "'We don't know what it's going to cost,' Angela Merkel said on Tuesday."
    quote = only_quote(body)
    assert quote.quote == "We don't know what it's going to cost,"


# --- where the speaker stands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,cue",
    [
        ('"The economy is growing faster than anyone expected," Gordon Brown said.', "said"),
        ('Gordon Brown said: "The economy is growing faster than anyone expected."', "said"),
        ('"The economy is growing faster than anyone expected," said Gordon Brown, the chancellor.', "said"),
        ('According to Gordon Brown, "the economy is growing faster than anyone expected."', "according to"),
        ('Chancellor Gordon Brown told reporters: "The economy is growing faster than expected."', "told reporters"),
        ('Gordon Brown said the economy was "growing faster than anyone expected" this year.', "said"),
    ],
    ids=["after", "before-colon", "inverted", "according-to", "told-reporters", "partial"],
)
def test_speaker_before_or_after(body, cue):
    quote = only_quote(body)
    assert "growing faster than" in quote.quote
    assert quote.speaker == "Gordon Brown"
    assert quote.cue == cue
    assert_offsets(body, quote)


def test_speaker_with_appositive_is_the_person_not_the_firm():
    body = ('Oil prices rose again. Ed Silliere, an analyst at Energy Merchant, added: "Gasoline is up '
            'because of the refinery issues in Texas."')
    assert only_quote(body).speaker == "Ed Silliere"


def test_speaker_reported_by_an_outlet_is_the_person():
    body = ('Pentagon spokesman John Kirby said Wednesday that the Russians "have so far declined to engage," '
            "the Washington Post reports.")
    assert only_quote(body).speaker == "John Kirby"


# --- quotes over several paragraphs, and split by their attribution --------------------------------


def test_quote_over_paragraphs_is_one_quote():
    body = ('Jim Levine built the prototype for his uncle.\n\n"I knew there must be a way to improve the '
            'situation for him and millions of others.\n\n"The number of elderly computer users will keep '
            'growing as the population ages," he said.\n\nThe device costs about 70 pounds.')
    quote = only_quote(body)
    assert quote.quote.startswith("I knew there must be") and quote.quote.endswith("population ages,")
    assert "\n" not in quote.quote and '"' not in quote.quote
    assert quote.speaker == "Jim Levine"
    assert body.index("I knew") == quote.start_char and quote.end_char == body.index('" he said')


def test_quote_split_by_attribution_is_one_quote():
    body = 'Boris Johnson spoke in London. "We will fight," Mr Johnson said, "to the very end of this."'
    quote = only_quote(body)
    assert quote.quote == "We will fight, to the very end of this."
    assert quote.speaker == "Boris Johnson"
    assert body[quote.start_char :].startswith("We will fight") and body[: quote.end_char].endswith("end of this.")


# --- who "he" and "the prime minister" are ---------------------------------------------------------


def test_pronoun_speaker_is_the_last_named_subject():
    body = ('Nicolas Sarkozy of France said the ministers were worried. The euro rose against the dollar. '
            '"We are concerned about these developments, which are destabilising," he said.')
    assert only_quote(body).speaker == "Nicolas Sarkozy"


def test_pronoun_speaker_is_the_last_speaker():
    body = ('"The figures are a lot better than expected," said Paul Dales, an economist.\n\n'
            'Exports rose by 3%. "But the trend still remains poor for most of the exporters," he said.')
    quotes = quotes_of(body)
    assert [q.speaker for q in quotes] == ["Paul Dales", "Paul Dales"]


def test_surname_speaker_is_the_full_name():
    body = ('Tony Blair visited Leeds on Friday. "This government will not rest until the job is done," '
            "Mr Blair said.")
    assert only_quote(body).speaker == "Tony Blair"


def test_title_speaker_is_the_named_holder():
    body = ("Prime Minister Tony Blair visited Leeds on Friday. "
            '"This government will not rest until the job is done," the prime minister said.')
    quote = only_quote(body)
    assert quote.speaker == "Tony Blair" and quote.speaker_label == "PERSON"


def test_former_title_holder_is_not_the_title_speaker():
    body = ("Former president Eduard Shevardnadze was toppled in November. The new president, Mikhail "
            'Saakashvili, spoke on Monday. "There are people who have money but are afraid to show it," '
            "the president told a government session.")
    assert only_quote(body).speaker == "Mikhail Saakashvili"


def test_unnamed_speaker_is_none():
    body = '"Only a handful of senior executives know the results," a spokeswoman for the show said.'
    quote = only_quote(body)
    assert quote.speaker is None and quote.cue == "said"


def test_quote_carrying_on_takes_the_previous_speaker():
    body = ('"We felt no need whatsoever to close the book," spokesman Warren Lush said. '
            '"We have seen absolutely no suspicious betting patterns."')
    quotes = quotes_of(body)
    assert [q.speaker for q in quotes] == ["Warren Lush", "Warren Lush"]


# --- what is not a quote ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        'Russia launched what it calls a "special operation" in the east of the country.',
        'The messages will be "unwrapped" by the sculptor Richard Wentworth at the gallery.',
        'The FAO report on the "State of Agricultural Commodity Markets" said prices would fall.',
        'She was "satisfied" with the result, the spokeswoman said on Monday.',
        "The company's shares rose 4% in early trading in London on Tuesday.",
    ],
    ids=["scare-quote", "one-word", "title", "short-partial", "no-marks"],
)
def test_not_a_quote(body):
    assert quotes_of(body) == []


# --- unbalanced marks -------------------------------------------------------------------------------


GOOD = '"The reforms will go ahead whatever the cost," Tony Blair said.'


@pytest.mark.parametrize(
    "noise",
    [
        'He spoke of "the plan without ever closing it.',
        'The plan" was closed without being opened.',
        '"" "',
        "“Unclosed curly opening and ‘a stray single.",
        "The analysts' forecasts and the '90s boom were cited.",
        "«",
        '"',
    ],
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_unbalanced_marks_keep_the_other_quotes(noise, where):
    body = f"{noise}\n\n{GOOD}" if where == "before" else f"{GOOD}\n\n{noise}"
    quotes = quotes_of(body)
    assert any(q.quote.startswith("The reforms will go ahead") and q.speaker == "Tony Blair" for q in quotes)
    for quote in quotes:
        assert 0 <= quote.start_char < quote.end_char <= len(body)


@pytest.mark.parametrize("body", ['"', "«»", "“”", '""', "'", "a\"b'c«d»e“f”", '"\n\n"\n\n"', ""])
def test_degenerate_bodies_do_not_crash(body):
    assert isinstance(find_quotes(body, []), list)


# --- through the pipeline ---------------------------------------------------------------------------


def test_enrich_seed_quotes(seed_quotes):
    speakers = {q.speaker for q in seed_quotes}
    assert {"John Kirby", "James Stavridis"} <= speakers
    assert all(q.speaker != "Washington Post" for q in seed_quotes)
    assert not any(q.quote in ("Tiger Team", "nightmare scenario") for q in seed_quotes)


@pytest.fixture(scope="module")
def seed_quotes():
    from tests.test_enrich import SEED_BODY

    return quotes_of(SEED_BODY)


def test_country_speaker():
    quote = only_quote('"We will respond to any provocation with force," Russia said in a statement on Monday.')
    assert (quote.speaker, quote.speaker_label) == ("Russia", "GPE")
