"""parse_document: layout detection and every field of the Newser, HTML and plain layouts."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.parse import parse_document
from tasks.records import Article, Rejected

PARSE_FIXTURES = Path(__file__).parent / "fixtures" / "parse"
NBSP = "\u00a0"
BOILERPLATE = (
    "Get the news faster.\nTap to install our app.\nInstall the Newser News app\n"
    "in two easy steps:\n1. Tap in your navigation bar.\n2. Tap to Add to Home Screen."
)


def read_fixture(name: str) -> str:
    return (PARSE_FIXTURES / name).read_text(encoding="utf-8")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- Newser: the seed, field by field -------------------------------------------------------

SEED_BODY_START = "Despite the clear risk of escalation"
SEED_BODY_END = 'could have "dire consequences" for its NATO neighbors.'

SEED_FIELDS = {
    "format": "newser",
    "title": "Russian Military Chiefs Aren't Taking Calls From US",
    "dek": "We must avoid a scenario of NATO and Russia sleepwalking into war",
    "authors": ["Rob Quinn"],
    "outlet": "Newser",
    "published_at": utc(2022, 3, 24, 11, 59),
    "alt_title": "Russian Military Leaders Aren't Taking Calls From Americans",
    "image_caption": (
        "A Ukrainian National guard soldier inspects a damaged Russian military vehicle in "
        "Kharkiv, Ukraine, Wednesday, March 16, 2022."
    ),
    "image_credit": "AP Photo/Andrew Marienko",
    "topic": "Russia-Ukraine war",
}


@pytest.fixture(scope="module")
def seed_article() -> Article:
    return parse_document(read_fixture("newser_seed.txt"))


@pytest.mark.parametrize("field", sorted(SEED_FIELDS))
def test_parse_newser_seed_field(seed_article: Article, field: str):
    assert getattr(seed_article, field) == SEED_FIELDS[field]


def test_parse_newser_seed_published_at_is_utc_aware(seed_article: Article):
    assert seed_article.published_at.utcoffset().total_seconds() == 0


def test_parse_newser_seed_body_is_the_three_paragraphs(seed_article: Article):
    paragraphs = seed_article.body.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith(SEED_BODY_START)
    assert paragraphs[-1].endswith(SEED_BODY_END)
    # The original text is kept exactly, curly apostrophe included.
    expected = read_fixture("newser_seed.txt").split("\n\n")
    assert paragraphs[:2] == expected[2:4]
    assert paragraphs[2] + " (More Russia-Ukraine war stories.)" == expected[4]


@pytest.mark.parametrize(
    "leftover",
    ["(More", "stories.)", "Get the news faster", "Tap to", "Home Screen", NBSP, "\n\n\n"],
)
def test_parse_newser_seed_body_has_no_leftover(seed_article: Article, leftover: str):
    assert leftover not in seed_article.body


def test_parse_newser_seed_body_keeps_curly_apostrophe(seed_article: Article):
    assert "senior leaders can\u2019t pick up a phone" in seed_article.body


# --- Newser: synthetic variants, every field ------------------------------------------------

NEWSER_VARIANTS = {
    "newser_no_dek_updated.txt": Article(
        format="newser",
        title="Senate Passes Stopgap Bill Hours Before Deadline",
        dek=None,
        authors=["Kate Seamons"],
        outlet="Newser",
        published_at=utc(2023, 9, 30, 21, 15),
        alt_title="Lawmakers Avert Shutdown at the Last Minute",
        image_caption="The Capitol is seen in Washington, Saturday, Sept. 30, 2023.",
        image_credit="AP Photo/Evan Vucci, File",
        topic="government shutdown",
        body=(
            "The Senate voted late Saturday to keep the government funded for another 45 days, "
            "sending the bill to the president with hours to spare.\n\n"
            "The measure leaves out new aid for Ukraine, which had been a sticking point for a "
            "group of House members."
        ),
    ),
    "newser_no_alt_title.txt": Article(
        format="newser",
        title="Storm Knocks Out Power to 200K",
        dek="We have never seen wind like this",
        authors=["Jenn Gidman", "Arden Dier"],
        outlet="Newser",
        published_at=utc(2024, 1, 9, 15, 5),
        alt_title=None,
        image_caption="A utility crew works on a downed line in Des Moines, Iowa.",
        image_credit="Getty Images/Scott Olson",
        topic="winter storm",
        body=(
            "A winter storm with gusts above 60mph left about 200,000 homes without power across "
            "three states on Tuesday.\n\nCrews expect most customers to be restored by Thursday."
        ),
    ),
    "newser_editors_no_caption.txt": Article(
        format="newser",
        title="Study Links Daily Walks to Longer Life",
        dek="A small habit with a big payoff",
        authors=[],
        outlet="Newser",
        published_at=utc(2021, 6, 2, 14, 30),
        alt_title="Brisk Walking Adds Years, Researchers Say",
        image_caption=None,
        image_credit=None,
        topic=None,
        body=(
            "Adults who walked briskly for 20 minutes a day lived longer than those who did not, "
            "according to a study of 400,000 people published Wednesday."
        ),
    ),
    "newser_header_only_fields.txt": Article(
        format="newser",
        title="Zoo Welcomes Rare Twin Pandas",
        dek=None,
        authors=["John Johnson"],
        outlet="Newser",
        # ET in August is daylight time, UTC-4.
        published_at=utc(2022, 8, 16, 3, 2),
        alt_title=None,
        image_caption=None,
        image_credit=None,
        topic="panda",
        body=(
            "A zoo in Madrid announced the birth of twin giant pandas on Monday, a rarity outside "
            "China.\n\nKeepers said both cubs are healthy and nursing."
        ),
    ),
    "newser_caption_no_credit.txt": Article(
        format="newser",
        title="Wildfire Forces Evacuations Near Phoenix",
        dek="It came over the ridge in minutes",
        authors=[],
        outlet="Newser",
        published_at=utc(2020, 7, 4, 22, 45),
        alt_title="Thousands Flee Fast-Moving Blaze",
        image_caption="Smoke rises over the hills north of Phoenix on Saturday.",
        image_credit=None,
        topic="wildfire",
        body=(
            "More than 3,000 residents were ordered to leave their homes as a wildfire spread "
            "across dry brush north of the city.\n\nFirefighters said the blaze was 10% contained "
            "by evening."
        ),
    ),
    "newser_three_authors.txt": Article(
        format="newser",
        title="Court Blocks New Voting Map",
        dek=None,
        authors=["Rob Quinn", "Arden Dier", "Jenn Gidman"],
        outlet="Newser",
        published_at=utc(2022, 11, 1, 12, 0),
        alt_title=None,
        image_caption="The state Supreme Court building in Raleigh, N.C.",
        image_credit="AP Photo/Gerry Broome",
        topic=None,
        body=(
            "A state court on Tuesday blocked a new congressional map, saying it was drawn to "
            "favor one party.\n\nThe ruling sends lawmakers back to redraw the lines before the "
            "spring primary.\n\nAn appeal is expected."
        ),
    ),
}
ARTICLE_FIELDS = sorted(vars(NEWSER_VARIANTS["newser_three_authors.txt"]))


@pytest.mark.parametrize("field", ARTICLE_FIELDS)
@pytest.mark.parametrize("fixture_name", sorted(NEWSER_VARIANTS))
def test_parse_newser_variant_field(fixture_name: str, field: str):
    article = parse_document(read_fixture(fixture_name))
    assert getattr(article, field) == getattr(NEWSER_VARIANTS[fixture_name], field)


# --- Newser: one header line at a time, on a template ----------------------------------------

NEWSER_TEMPLATE = (
    "Headline Goes Here\n\n'A quoted dek'\n{byline}\n{posted}\nAlt Headline Here\n"
    "A caption for the photo.{nbsp}{nbsp} (AP Photo/Someone)\n\n"
    "First paragraph of the body.\n\nSecond paragraph of the body.\n"
)


def newser_text(byline: str = f"By Rob Quinn,{NBSP} Newser Staff",
                posted: str = "Posted Mar 24, 2022 6:59 AM CDT") -> str:  # fmt: skip
    return NEWSER_TEMPLATE.format(byline=byline, posted=posted, nbsp=NBSP)


@pytest.mark.parametrize(
    ("byline", "authors"),
    [
        (f"By Rob Quinn,{NBSP} Newser Staff", ["Rob Quinn"]),
        ("By Rob Quinn,  Newser Staff", ["Rob Quinn"]),
        ("By Arden Dier, Newser Staff", ["Arden Dier"]),
        ("By Newser Editors", []),
        ("By Newser Editors and Wire Services", []),
        ("By Jenn Gidman and Kate Seamons, Newser Staff", ["Jenn Gidman", "Kate Seamons"]),
        ("By Rob Quinn & Andy Smith, Newser Staff", ["Rob Quinn", "Andy Smith"]),
    ],
)
def test_parse_newser_byline_authors(byline: str, authors: list[str]):
    article = parse_document(newser_text(byline=byline))
    assert (article.format, article.authors, article.outlet) == ("newser", authors, "Newser")


@pytest.mark.parametrize(
    ("posted", "published_at"),
    [
        ("Posted Mar 24, 2022 6:59 AM CDT", utc(2022, 3, 24, 11, 59)),
        ("Posted Jan 3, 2022 6:59 PM CST", utc(2022, 1, 4, 0, 59)),
        ("Posted Jan 3, 2022 6:59 AM EST", utc(2022, 1, 3, 11, 59)),
        ("Posted Jul 3, 2022 6:59 AM EDT", utc(2022, 7, 3, 10, 59)),
        ("Posted Jan 3, 2022 6:59 AM MST", utc(2022, 1, 3, 13, 59)),
        ("Posted Jul 3, 2022 6:59 AM MDT", utc(2022, 7, 3, 12, 59)),
        ("Posted Jan 3, 2022 6:59 AM PST", utc(2022, 1, 3, 14, 59)),
        ("Posted Jul 3, 2022 6:59 AM PDT", utc(2022, 7, 3, 13, 59)),
        ("Posted Jan 3, 2022 6:59 AM AKST", utc(2022, 1, 3, 15, 59)),
        ("Posted Jul 3, 2022 6:59 AM AKDT", utc(2022, 7, 3, 14, 59)),
        ("Posted Jan 3, 2022 6:59 AM HST", utc(2022, 1, 3, 16, 59)),
        ("Posted Jan 3, 2022 6:59 AM UTC", utc(2022, 1, 3, 6, 59)),
        ("Posted Jan 3, 2022 6:59 AM GMT", utc(2022, 1, 3, 6, 59)),
        ("Posted Jan 3, 2022 6:59 AM CT", utc(2022, 1, 3, 12, 59)),
        ("Posted Jul 3, 2022 6:59 AM CT", utc(2022, 7, 3, 11, 59)),
        ("Posted Jul 3, 2022 6:59 AM PT", utc(2022, 7, 3, 13, 59)),
        (
            "Posted Mar 24, 2022 6:59 AM CDT | Updated Mar 24, 2022 9:12 AM CDT",
            utc(2022, 3, 24, 11, 59),
        ),
        ("Posted Mar 24, 2022 6:59 AM", None),  # no zone: not placed on the timeline by guesswork
        ("Posted a while ago", None),
        ("Posted 6:59 AM CDT", None),  # no date: not today's date by default
        ("Posted Mar 24, 2022 6:59 AM XYZ", None),
        ("Posted Mar 24, 2022 6:59 AM cdt", utc(2022, 3, 24, 11, 59)),
    ],
)
def test_parse_newser_posted_line(posted: str, published_at: datetime | None):
    article = parse_document(newser_text(posted=posted))
    assert article.format == "newser"
    assert article.published_at == published_at
    if published_at is not None:
        assert article.published_at.tzinfo is UTC


def test_parse_newser_updated_line_is_not_the_alt_title():
    text = newser_text().replace("AM CDT\n", "AM CDT\nUpdated Mar 24, 2022 9:12 AM CDT\n")
    article = parse_document(text)
    assert (article.alt_title, article.published_at) == (
        "Alt Headline Here",
        utc(2022, 3, 24, 11, 59),
    )


@pytest.mark.parametrize(
    ("caption_line", "caption", "credit"),
    [
        (
            f"A man waves.{NBSP}{NBSP} (AP Photo/Evan Vucci, File)",
            "A man waves.",
            "AP Photo/Evan Vucci, File",
        ),
        ("A man waves. (Getty Images/Scott Olson)", "A man waves.", "Getty Images/Scott Olson"),
        ("A man waves. (AP Photo)", "A man waves.", "AP Photo"),
        ("A man waves.", "A man waves.", None),
        ("Joe Biden waves to the crowd (left).", "Joe Biden waves to the crowd (left).", None),
        ("A man waves to the crowd (left)", "A man waves to the crowd (left)", None),
    ],
)
def test_parse_newser_caption_and_credit(caption_line: str, caption: str, credit: str | None):
    text = newser_text().replace(
        f"A caption for the photo.{NBSP}{NBSP} (AP Photo/Someone)", caption_line
    )
    article = parse_document(text)
    assert (article.alt_title, article.image_caption, article.image_credit) == (
        "Alt Headline Here", caption, credit,
    )  # fmt: skip


ALT_AND_CAPTION = f"Alt Headline Here\nA caption for the photo.{NBSP}{NBSP} (AP Photo/Someone)"


@pytest.mark.parametrize(
    ("photo_block", "alt_title", "caption", "credit"),
    [
        (
            "Brisk Walking Adds Years, Researchers Say",
            "Brisk Walking Adds Years, Researchers Say",
            None,
            None,
        ),
        (
            "Smoke rises over the hills north of Phoenix on Saturday.",
            None,
            "Smoke rises over the hills north of Phoenix on Saturday.",
            None,
        ),
        ("Smoke rises over the hills", None, "Smoke rises over the hills", None),
        (
            "A crew at work. (Getty Images/Scott Olson)",
            None,
            "A crew at work.",
            "Getty Images/Scott Olson",
        ),
        (
            "Alt Headline\nFirst photo. (AP Photo/One)\nSecond photo. (AP Photo/Two)",
            "Alt Headline",
            "First photo.",
            "AP Photo/One",
        ),
        (
            "Alt Headline\nA caption with no credit.",
            "Alt Headline",
            "A caption with no credit.",
            None,
        ),
    ],
    ids=[
        "title-case-alone",
        "sentence-alone",
        "sentence-without-period",
        "credited-alone",
        "two-photos",
        "no-credit",
    ],
)
def test_parse_newser_photo_block_shapes(photo_block: str, alt_title, caption, credit):
    article = parse_document(newser_text().replace(ALT_AND_CAPTION, photo_block))
    assert (article.alt_title, article.image_caption, article.image_credit) == (
        alt_title,
        caption,
        credit,
    )
    assert article.body == "First paragraph of the body.\n\nSecond paragraph of the body."


# A page with no photo: the seed with its caption line removed. The line after the Posted line is
# the alternate headline however it is written, as long as it restates the headline.
SEED_HEADLINE = SEED_FIELDS["title"]


@pytest.mark.parametrize(
    "alt_line",
    [
        SEED_FIELDS["alt_title"],
        SEED_HEADLINE + " Generals",
        "Why " + SEED_HEADLINE + ", Say Analysts",
        "Russian military chiefs aren't taking calls from US generals",
        SEED_HEADLINE + " (Photos)",
    ],
    ids=["reworded", "headline-plus-word", "words-around", "sentence-case", "parenthesized-suffix"],
)
def test_parse_newser_no_photo_alt_headline_is_alt_title(alt_line: str):
    text = read_fixture("newser_seed_no_photo.txt").replace(SEED_FIELDS["alt_title"], alt_line)
    article = parse_document(text)
    assert (article.alt_title, article.image_caption, article.image_credit) == (alt_line, None, None)
    assert (article.title, article.body) == (SEED_HEADLINE, parse_document(read_fixture("newser_seed.txt")).body)


@pytest.mark.parametrize(
    ("photo_block", "alt_title", "caption", "credit"),
    [
        (SEED_HEADLINE + " Generals\nTroops in Kharkiv. (AP Photo/One)",
         SEED_HEADLINE + " Generals", "Troops in Kharkiv.", "AP Photo/One"),
        (SEED_HEADLINE + " Generals\nTroops in Kharkiv.", SEED_HEADLINE + " Generals", "Troops in Kharkiv.", None),
        # A caption sharing the headline's words is still a caption: it says more than the headline.
        ("Russian military chiefs, who are not taking calls from US generals, at a parade in Moscow.",
         None, "Russian military chiefs, who are not taking calls from US generals, at a parade in Moscow.", None),
    ],
    ids=["restated-then-credited-caption", "restated-then-caption", "caption-with-headline-words"],
)
def test_parse_newser_restated_headline_then_caption(photo_block: str, alt_title, caption, credit):
    text = read_fixture("newser_seed_no_photo.txt").replace(SEED_FIELDS["alt_title"], photo_block)
    article = parse_document(text)
    assert (article.alt_title, article.image_caption, article.image_credit) == (alt_title, caption, credit)


def test_parse_newser_no_photo_block_and_no_blank_before_body():
    long_paragraph = "A body paragraph that runs on well past any caption length. " * 12
    text = newser_text().replace(ALT_AND_CAPTION + "\n", long_paragraph + "\n")
    article = parse_document(text)
    assert (article.alt_title, article.image_caption) == (None, None)
    assert article.body.startswith(long_paragraph.strip())


@pytest.mark.parametrize(
    "text",
    [
        "Headline Only\nBy Rob Quinn, Newser Staff\nPosted Mar 24, 2022 6:59 AM CDT\n",
        "Headline\nBy Rob Quinn, Newser Staff\nPosted Mar 24, 2022 6:59 AM CDT\nAlt Headline\n\n"
        + BOILERPLATE,
        "Headline\nBy Rob Quinn, Newser Staff\nPosted Mar 24, 2022 6:59 AM CDT\n\n"
        "(More Russia-Ukraine war stories.)\n",
    ],
    ids=["header-only", "boilerplate-only", "marker-only"],
)
def test_parse_newser_without_body_is_rejected(text: str):
    with pytest.raises(Rejected) as error:
        parse_document(text)
    assert error.value.reason == "no body"


def test_parse_newser_boilerplate_glued_to_last_paragraph_is_removed():
    text = newser_text().rstrip("\n") + "\n" + BOILERPLATE
    assert (
        parse_document(text).body == "First paragraph of the body.\n\nSecond paragraph of the body."
    )


def test_parse_newser_crlf_newlines():
    article = parse_document(read_fixture("newser_seed.txt").replace("\n", "\r\n"))
    assert (article.title, article.image_credit, article.topic) == (
        SEED_FIELDS["title"], SEED_FIELDS["image_credit"], SEED_FIELDS["topic"],
    )  # fmt: skip
    assert "\r" not in article.body


@pytest.mark.parametrize(
    "text",
    [
        # A byline naming Newser but no Posted line: just an article quoting Newser.
        "Some Headline\n\nBy Newser standards this was a quiet week.\n\nThe rest of the story.\n",
        # A Posted line but a byline without Newser.
        "Some Headline\nBy Jane Doe, Staff\nPosted Mar 24, 2022 6:59 AM CDT\n\nThe story.\n",
        # The byline shape far below the top of the text.
        "Headline\n\n" + "Paragraph.\n\n" * 8 + "By Rob Quinn, Newser Staff\nPosted Mar 24, 2022\n",
    ],
    ids=["no-posted-line", "byline-without-newser", "byline-too-far-down"],
)
def test_parse_newser_lookalike_is_plain(text: str):
    assert parse_document(text).format == "plain"


# --- Plain text (BBC) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture_name", ["bbc_business_001.txt", "bbc_tech_001.txt", "bbc_entertainment_001.txt"]
)
def test_parse_plain_bbc_title_and_body(fixture_name: str):
    text = read_fixture(fixture_name)
    title, rest = text.split("\n", 1)
    article = parse_document(text)
    expected_paragraphs = [p.strip() for p in rest.split("\n\n") if p.strip()]
    assert article.format == "plain"
    assert article.title == title.strip()
    assert article.body.split("\n\n") == expected_paragraphs


@pytest.mark.parametrize(
    "field",
    ["dek", "alt_title", "outlet", "published_at", "image_caption", "image_credit", "topic"],
)
def test_parse_plain_bbc_missing_field_is_none(field: str):
    assert getattr(parse_document(read_fixture("bbc_business_001.txt")), field) is None


def test_parse_plain_bbc_authors_empty():
    assert parse_document(read_fixture("bbc_business_001.txt")).authors == []


def test_parse_plain_business_title_exact():
    article = parse_document(read_fixture("bbc_business_001.txt"))
    assert article.title == "Ad sales boost Time Warner profit"
    assert article.body.startswith("Quarterly profits at US media giant TimeWarner jumped 76%")


@pytest.mark.parametrize(
    ("text", "title", "body"),
    [
        ("Title\n\nOne.\n\nTwo.\n", "Title", "One.\n\nTwo."),
        ("\n\n  Title  \n\nOne.   \n\n\n\nTwo.\t\n\n", "Title", "One.\n\nTwo."),
        ("Title\nBody straight after the title.\n", "Title", "Body straight after the title."),
        ("Title\n\nLine one\nline two\n\nNext.", "Title", "Line one\nline two\n\nNext."),
        ("Title\r\n\r\nOne.\r\n\r\nTwo.", "Title", "One.\n\nTwo."),
    ],
    ids=["basic", "padding-and-trailing-spaces", "no-blank-after-title", "wrapped-lines", "crlf"],
)
def test_parse_plain_shapes(text: str, title: str, body: str):
    article = parse_document(text)
    assert (article.format, article.title, article.body) == ("plain", title, body)


def test_parse_plain_single_huge_line_has_no_title():
    text = "word " * 20_000  # 100 KB, no newline
    article = parse_document(text)
    assert article.title is None
    assert article.body == text.rstrip()


@pytest.mark.parametrize("text", ["Just A Headline\n", "Just A Headline\n\n   \n", "", "  \n\n "])
def test_parse_plain_without_body_is_rejected(text: str):
    with pytest.raises(Rejected) as error:
        parse_document(text)
    assert error.value.reason == "no body"


# --- HTML -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def html_article() -> Article:
    return parse_document(read_fixture("html_article.html"))


def test_parse_html_title_and_format(html_article: Article):
    assert (html_article.format, html_article.title) == ("html", "Mayor opens new bridge")


def test_parse_html_body_paragraphs(html_article: Article):
    paragraphs = html_article.body.split("\n\n")
    assert paragraphs[0].startswith("The mayor on Tuesday opened the long-awaited bridge")
    assert paragraphs[-1].startswith("Construction began in 2014")
    assert len(paragraphs) == 3


@pytest.mark.parametrize(
    "leftover", ["<", ">", "SCRIPT_MARKER", "tracking", "color: red", "Home", "Copyright"]
)
def test_parse_html_body_has_no_markup_or_chrome(html_article: Article, leftover: str):
    assert leftover not in html_article.body


@pytest.mark.parametrize(
    "field",
    ["dek", "alt_title", "outlet", "published_at", "image_caption", "image_credit", "topic"],
)
def test_parse_html_missing_field_is_none(html_article: Article, field: str):
    assert getattr(html_article, field) is None


def test_parse_html_fragment_without_doctype():
    text = (
        "<div>\n<p>The first paragraph of a page fragment saved without its head, long enough "
        "to read as article text.</p>\n<p>A second paragraph that carries on the story with a few "
        "more words.</p>\n<p>And a third to finish it.</p>\n</div>\n"
    )
    article = parse_document(text)
    assert article.format == "html"
    assert article.body.startswith("The first paragraph of a page fragment")
    assert "<" not in article.body


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><html><head><title>Empty</title></head><body></body></html>",
        "<html><body><script>alert('only a script')</script></body></html>",
        "<!doctype html><html><head><title>Menu</title></head><body><nav><ul><li>"
        "<a href='/'>Home</a></li><li><a href='/n'>News</a></li></ul></nav>"
        "<footer>Copyright 2024</footer></body></html>",
    ],
    ids=["empty-body", "script-only", "navigation-only"],
)
def test_parse_html_without_article_is_rejected(text: str):
    with pytest.raises(Rejected) as error:
        parse_document(text)
    assert error.value.reason == "html page with no article text"


def test_parse_plain_text_mentioning_a_tag_is_not_html():
    text = "Why <p> tags matter\n\nWeb designers use the <p> element for paragraphs.\n"
    assert parse_document(text).format == "plain"


def test_parse_non_html_does_not_import_trafilatura():
    # trafilatura is a heavy import; only HTML files should pay for it.
    script = (
        "import sys; from tasks.parse import parse_document; "
        f"parse_document(open({str(PARSE_FIXTURES / 'newser_seed.txt')!r}).read()); "
        "parse_document('Title\\n\\nBody.'); "
        "print('trafilatura' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    assert result.stdout.strip() == "False"
