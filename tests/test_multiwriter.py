"""Several `newslake ingest --catalog` processes on one inbox (real PostgreSQL, DuckLake, spaCy and
Prefect): they split it, one of them is killed with -9, and after one more run the lake ends as one
process on a SQLite lake would leave it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import newslake
from newslake.cli import app
from tests.conftest import BBC, cli_environment, poll_until

NEWSLAKE = Path(sys.executable).with_name("newslake")
NEAR = Path(__file__).parent / "fixtures" / "near"
BATCH = "4"  # small claims, so the writers interleave over a small inbox


@pytest.fixture(scope="module")
def shared_inbox(tmp_path_factory) -> Path:
    """33 BBC articles (one byte-identical pair) and 7 of the near-dedup fixtures, with more exact
    and near copies spread across the inbox's path order, so they reach different writers."""
    inbox = tmp_path_factory.mktemp("shared") / "inbox"
    shutil.copytree(BBC, inbox / "bbc")
    shutil.copytree(NEAR, inbox / "near")
    shutil.copy(BBC / "business_001.txt", inbox / "zz_copy_of_business_001.txt")
    shutil.copy(NEAR / "original.txt", inbox / "aa_copy_of_original.txt")
    shutil.copy(NEAR / "trimmed.txt", inbox / "zz_trimmed_again.txt")
    return inbox


@pytest.fixture(scope="module")
def control(shared_inbox, tmp_path_factory, prefect_harness) -> dict:
    """The same inbox ingested by one process into a SQLite lake."""
    lake = tmp_path_factory.mktemp("control") / "lake"
    result = CliRunner().invoke(app, ["ingest", "--seeds", str(shared_inbox), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    return lake_contents(newslake.connect(lake))


def lake_contents(con) -> dict:
    try:
        def rows(query: str) -> list[tuple]:
            return con.execute(query).fetchall()

        return {
            "files": dict(rows("SELECT path, status FROM files")),
            "file_rows": rows("SELECT count(*), count(DISTINCT path) FROM files")[0],
            "file_articles": dict(rows("SELECT path, article_id FROM files")),
            "articles": rows("SELECT count(*), count(DISTINCT article_id) FROM articles")[0],
            "duplicates": rows("SELECT count(*), count(DISTINCT source_path) FROM duplicates")[0],
            "entities": dict(rows("SELECT article_id, list(DISTINCT (label, start_char, end_char)).list_sort()::VARCHAR "
                                  "FROM entities GROUP BY article_id")),
            "entity_rows": rows("SELECT count(*), count(DISTINCT (article_id, label, start_char, end_char)) "
                                "FROM entities")[0],
        }
    finally:
        con.close()


def writer_arguments(inbox: Path, data: Path, catalog: str) -> list[str]:
    return ["ingest", "--seeds", str(inbox), "--lake", str(data), "--catalog", catalog, "--batch-size", BATCH,
            "--ner-processes", "1"]


def start_writer(inbox: Path, data: Path, catalog: str, env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([str(NEWSLAKE), *writer_arguments(inbox, data, catalog)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def assert_same_as_control(got: dict, control: dict) -> None:
    assert got["files"].keys() == control["files"].keys()  # every file ends in one state
    assert got["file_rows"] == control["file_rows"]  # ... exactly once
    assert sorted(got["files"].values()) == sorted(control["files"].values())
    assert got["articles"] == control["articles"] and got["articles"][0] == got["articles"][1]
    assert got["duplicates"] == control["duplicates"] and got["duplicates"][0] == got["duplicates"][1]
    assert got["entity_rows"][0] == got["entity_rows"][1]  # no entity twice
    # One article per story: each group of copies the control made one article is one article here,
    # its other files duplicates of it (which copy is the article depends on who committed first).
    groups: dict[str, list[str]] = {}
    for path, article_id in control["file_articles"].items():
        if article_id is not None:
            groups.setdefault(article_id, []).append(path)
    for paths in groups.values():
        ingested = [p for p in paths if got["files"][p] == "ingested"]
        assert len(ingested) == 1, paths
        assert {got["file_articles"][p] for p in paths} == {got["file_articles"][ingested[0]]}
    # Every article has exactly the entities one process gives the same body.
    for article_id, entities in got["entities"].items():
        if article_id in control["entities"]:
            assert entities == control["entities"][article_id]
    shared = set(got["entities"]) & set(control["entities"])
    assert len(shared) >= len(control["entities"]) - 3  # only near copies' canonical may differ


def writer_runs(data: Path, catalog: str) -> dict[str, str]:
    con = newslake.connect(data, catalog=catalog)
    try:
        return dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    finally:
        con.close()


def test_three_writers_split_the_inbox_one_killed_with_sigkill_and_match_one_process(
        shared_inbox, control, catalog_url, tmp_path, harness_api_url):
    """Three writers share the inbox; one is killed -9 while it holds a batch, after committing one.
    The other two still exit 0, its claims come back, and after one more run the lake is what one
    process makes: nothing lost, nothing doubled."""
    from tasks import claims

    env = cli_environment(tmp_path / "prefect-home", harness_api_url)
    data = tmp_path / "data"
    logs = [tmp_path / f"writer-{n}.log" for n in range(3)]
    writers = [start_writer(shared_inbox, data, catalog_url, env, log) for log in logs]
    victim = writers[0]
    session = claims.connect(catalog_url)

    def victim_holds_a_batch_after_committing_one() -> bool:
        held = session.execute("SELECT count(*) FROM newslake.claims WHERE holder_pid = %s AND done_at IS NULL "
                               "AND lease_until > now()", [victim.pid]).fetchone()[0]
        done = session.execute("SELECT count(*) FROM newslake.claims WHERE holder_pid = %s AND done_at IS NOT NULL",
                               [victim.pid]).fetchone()[0]
        return held > 0 and done > 0

    try:
        # Wait until the tables exist (the first writer makes them), then for the victim mid-batch.
        assert poll_until(lambda: session.execute("SELECT to_regclass('newslake.claims') IS NOT NULL").fetchone()[0],
                          timeout=120, interval=0.2)
        assert poll_until(victim_holds_a_batch_after_committing_one, timeout=120, interval=0.05)
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        session.close()
    assert victim.wait(timeout=30) == -signal.SIGKILL
    codes = [w.wait(timeout=300) for w in writers[1:]]
    assert codes == [0, 0], "\n".join(log.read_text(errors="replace") for log in logs)
    # The survivors took the dead writer's claims back (it ran on this host), or the final run does
    # (in this process: it needs no start-up of its own).
    final = CliRunner().invoke(app, writer_arguments(shared_inbox, data, catalog_url))
    assert final.exit_code == 0, final.output
    assert_same_as_control(lake_contents(newslake.connect(data, catalog=catalog_url)), control)
    statuses = sorted(writer_runs(data, catalog_url).values())
    assert statuses == ["completed"] * 3 + ["crashed"]
    # Each of the three writers committed a share of the inbox: none waited for another's whole run.
    con = newslake.connect(data, catalog=catalog_url)
    try:
        first_three = [run for run, in con.execute("SELECT run_id FROM runs ORDER BY started_at LIMIT 3").fetchall()]
        per_run = dict(con.execute("SELECT run_id, count(*) FROM files GROUP BY run_id").fetchall())
    finally:
        con.close()
    assert all(per_run.get(run, 0) > 0 for run in first_three), per_run
    assert sum(per_run.values()) == len(control["files"])
