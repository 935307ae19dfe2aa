"""One identity per person across the lake (tasks/identity.py): keys, merges, and the lake tables
and views on a real DuckLake in a temp folder, old lakes included."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

import sql
from tasks import schema
from tasks.identity import Identity, entity_id_of, identity_key, identity_rows, plan_identities
from tasks.lake import commit_batch, open_lake
from tests.conftest import lake_rows
from tests.test_migration import _make_old_lake

NOW = datetime(2026, 11, 30, tzinfo=UTC)

# --- identity keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names,label",
    [
        (["Vladimir Putin", "President Vladimir Putin", "Vladimir V. Putin", "Vladimir Vladimirovich Putin"],
         "PERSON"),
        (["Volodymyr Zelensky", "Volodymyr Zelenskyy", "Volodymyr Zelenskiy", "Volodymyr Zelenski"], "PERSON"),
        (["Mark A. Milley", "Mark Milley", "Gen Mark Milley"], "PERSON"),
        (["José Manuel Barroso", "Jose Manuel Barroso"], "PERSON"),
        (["Putin", "President Putin", "Mr Putin"], "PERSON"),
        (["Microsoft", "Microsoft Corp", "Microsoft Inc."], "ORG"),
        (["BBC", "the BBC"], "ORG"),
    ],
)
def test_identity_key_same_identity(names, label):
    assert len({identity_key(name, label) for name in names}) == 1


@pytest.mark.parametrize(
    "first,second,label",
    [
        ("Boris Johnson", "Lyndon Johnson", "PERSON"),
        ("Vladimir Putin", "Vladimir Zelensky", "PERSON"),
        ("Washington Post", "Washington Times", "ORG"),
    ],
)
def test_identity_key_different_identities(first, second, label):
    assert identity_key(first, label) != identity_key(second, label)


# --- merges ---------------------------------------------------------------------------------------


def known(name: str, label: str = "PERSON", entity_id: str | None = None, display: str | None = None) -> Identity:
    key = identity_key(name, label)
    return Identity(name, label, entity_id or entity_id_of(label, key), display or name, key,
                    key.rsplit(" ", 1)[-1] if label == "PERSON" else None)


def ids(rows: list[Identity]) -> dict[str, str]:
    return {row.name: row.entity_id for row in rows}


def test_surname_alone_is_the_one_known_person():
    putin = known("Vladimir Putin")
    rows = plan_identities([("Putin", "PERSON"), ("President Putin", "PERSON")], [putin])
    assert ids(rows) == {"Putin": putin.entity_id, "President Putin": putin.entity_id}
    assert {row.display_name for row in rows} == {"Vladimir Putin"}


def test_surname_alone_with_two_people_stays_apart():
    boris, lyndon = known("Boris Johnson"), known("Lyndon Johnson")
    [row] = plan_identities([("Johnson", "PERSON")], [boris, lyndon])
    assert row.entity_id not in (boris.entity_id, lyndon.entity_id)


def test_two_people_of_one_surname_in_one_batch_stay_apart():
    rows = plan_identities([("Boris Johnson", "PERSON"), ("Lyndon Johnson", "PERSON"), ("Johnson", "PERSON")], [])
    assert len(set(ids(rows).values())) == 3


def test_full_name_later_remaps_the_surname():
    alone = known("Putin")
    rows = plan_identities([("Vladimir Putin", "PERSON")], [alone])
    assert ids(rows) == {"Vladimir Putin": entity_id_of("PERSON", "vladimir putin"),
                         "Putin": entity_id_of("PERSON", "vladimir putin")}


def test_second_person_of_a_surname_makes_it_ambiguous_again():
    boris = known("Boris Johnson")
    johnson = known("Johnson", entity_id=boris.entity_id, display="Boris Johnson")
    rows = plan_identities([("Lyndon Johnson", "PERSON")], [boris, johnson])
    assert ids(rows)["Johnson"] == entity_id_of("PERSON", "johnson")
    assert "Boris Johnson" not in ids(rows)  # unchanged: no new row


def test_transliterations_are_one_identity():
    zelensky = known("Volodymyr Zelensky")
    rows = plan_identities([("Volodymyr Zelenskyy", "PERSON"), ("Zelenskyy", "PERSON")], [zelensky])
    assert set(ids(rows).values()) == {zelensky.entity_id}
    assert {row.display_name for row in rows} == {"Volodymyr Zelensky"}


def test_known_names_with_unchanged_identity_add_no_rows():
    putin = known("Vladimir Putin")
    assert plan_identities([("Vladimir Putin", "PERSON")], [putin]) == []


def test_labels_without_identity_are_skipped():
    assert plan_identities([("Monday", "DATE"), ("$5bn", "MONEY"), ("", "PERSON"), ("’s", "PERSON")], []) == []


# --- in the lake ----------------------------------------------------------------------------------


def batch_rows(article_id: str, mentions: list[tuple[str, str]], quotes: list[tuple[str, str, str]] = ()):
    entities = [{"article_id": article_id, "text": name, "name": name, "label": label, "start_char": 0,
                 "end_char": len(name)} for name, label in mentions]
    quote_rows = [{"article_id": article_id, "quote": text, "speaker": speaker, "speaker_label": label, "cue": "said",
                   "start_char": 0, "end_char": len(text)} for text, speaker, label in quotes]
    return {"entities": pa.Table.from_pylist(entities, schema.ENTITIES),
            "quotes": pa.Table.from_pylist(quote_rows, schema.QUOTES)}


def land(con, rows, batch: int) -> None:
    rows["entity_ids"] = identity_rows(con, rows, run_id="run-1", now=NOW.replace(minute=batch))
    commit_batch(con, rows, run_id="run-1", batch=batch)


def entities_files(con) -> set[str]:
    return {row[0] for row in con.execute("SELECT data_file FROM ducklake_list_files('lake', 'entities')").fetchall()}


def test_lake_merge_changes_the_mapping_not_old_rows(tmp_path):
    lake = tmp_path / "lake"
    con = open_lake(lake)
    try:
        land(con, batch_rows("a", [("Putin", "PERSON")], [("We will win this war.", "Putin", "PERSON")]), 1)
        before_files = entities_files(con)
        before_rows = con.execute("SELECT * FROM entities ORDER BY ALL").fetchall()
        land(con, batch_rows("b", [("Vladimir Putin", "PERSON"), ("Boris Johnson", "PERSON")]), 2)
        assert before_files <= entities_files(con)
        assert con.execute("SELECT * FROM entities WHERE article_id = 'a' ORDER BY ALL").fetchall() == before_rows
    finally:
        con.close()
    mentions = lake_rows(lake, "SELECT article_id, entity_id, display_name FROM mention_identities "
                               "WHERE name LIKE '%Putin' ORDER BY article_id")
    assert [m[0] for m in mentions] == ["a", "b"]
    assert mentions[0][1:] == mentions[1][1:] and mentions[0][2] == "Vladimir Putin"
    [speaker] = lake_rows(lake, "SELECT speaker_id, speaker_display_name FROM quote_identities")
    assert speaker == mentions[0][1:]
    # Append-only: "Putin" has its first identity and the one it was moved to.
    assert lake_rows(lake, "SELECT count(*) FROM entity_ids WHERE name = 'Putin'") == [(2,)]


def test_lake_two_johnsons_stay_apart(tmp_path):
    lake = tmp_path / "lake"
    con = open_lake(lake)
    try:
        land(con, batch_rows("a", [("Boris Johnson", "PERSON"), ("Johnson", "PERSON")]), 1)
        land(con, batch_rows("b", [("Lyndon Johnson", "PERSON"), ("Johnson", "PERSON")]), 2)
    finally:
        con.close()
    identities = dict(lake_rows(lake, "SELECT name, entity_id FROM entity_identity"))
    assert len(set(identities.values())) == 3


def test_old_lake_gains_quote_and_identity_tables_and_views(tmp_path):
    lake = tmp_path / "lake"
    _make_old_lake(lake, {}, {"quotes", "entity_ids"})
    open_lake(lake).close()
    assert lake_rows(lake, "SELECT article_id, title FROM articles") == [("old-1", "An old story")]
    for relation in ("quotes", "entity_ids", "entity_identity", "mention_identities", "quote_identities"):
        assert lake_rows(lake, f"SELECT count(*) FROM {relation}") == [(0,)]
    snapshots = lake_rows(lake, "SELECT count(*) FROM ducklake_snapshots('lake')")
    open_lake(lake).close()  # nothing left to migrate: no new snapshot
    assert lake_rows(lake, "SELECT count(*) FROM ducklake_snapshots('lake')") == snapshots


@pytest.mark.usefixtures("prefect_harness")
def test_ingest_into_old_lake_fills_quotes_and_identities(inbox, lake_dir):
    from flows.ingest import IngestSettings, ingest

    _make_old_lake(lake_dir, {}, {"quotes", "entity_ids"})
    summary = ingest(IngestSettings(seeds=inbox, lake=lake_dir, batch_size=10))
    assert summary.status == "completed"
    assert lake_rows(lake_dir, "SELECT title FROM articles WHERE article_id = 'old-1'") == [("An old story",)]
    quotes = lake_rows(lake_dir, """
        SELECT q.quote, q.speaker, q.start_char, q.end_char, a.body
        FROM quotes AS q JOIN articles AS a USING (article_id)""")
    assert len(quotes) > 20
    for text, _, start, end, body in quotes:
        assert body[start:end].startswith(text.split()[0]) and len(text) <= end - start + 1
    assert {"John Kirby", "James Stavridis"} <= {q[1] for q in quotes}
    unresolved = lake_rows(lake_dir, """
        SELECT count(*) FROM mention_identities
        WHERE entity_id IS NULL AND label IN ('PERSON', 'ORG', 'GPE')""")
    assert unresolved == [(0,)]
    speakers = lake_rows(lake_dir, """
        SELECT count(*) FROM quote_identities WHERE speaker IS NOT NULL AND speaker_label IS NOT NULL
          AND speaker_id IS NULL""")
    assert speakers == [(0,)]
    for example in ("quotes_by_person", "most_quoted_this_month", "mentions_of_identity"):
        lake_rows(lake_dir, sql.load(f"examples/{example}"))  # the user-facing queries run on a real lake
    by_kirby = lake_rows(lake_dir, sql.load("examples/quotes_by_person").replace("Tony Blair", "John Kirby"))
    assert [row[1] for row in by_kirby] == ["John Kirby"]
    # The example looks up the identity's names before the mentions; it finds what the view does.
    kirby_mentions = lake_rows(lake_dir, sql.load("examples/mentions_of_identity").replace("Vladimir Putin", "John Kirby"))
    by_view = lake_rows(lake_dir, """
        SELECT article_id, count(*), list(DISTINCT text ORDER BY text) FROM mention_identities
        WHERE entity_id IN (SELECT entity_id FROM entity_identity WHERE display_name = 'John Kirby')
        GROUP BY 1""")
    assert by_view and sorted((row[2], row[3]) for row in kirby_mentions) == sorted((n, names) for _, n, names in by_view)
