"""Crashes: kill -9 at any moment loses nothing and doubles nothing.

Real `newslake ingest` processes (reporting to the session's Prefect server, so that none spends
its first seconds booting one of its own) ingest sixty-odd generated stories in small batches.
One after another, runs on one lake are killed with SIGKILL at set moments (at a batch's commit,
and part of the way through the work), then one last run finishes; the lake must then equal, table
by table, a control lake built by one uninterrupted run of the same command. The control and the
last run run in this process (no start-up of their own); only the runs that are killed need
processes. Budget: a control run, three killed runs and a final run.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tasks.lake import DATA_DIR, open_lake
from tests.conftest import BBC, REPO, cli_environment

STORIES = 60
EXACT_COPIES = 6
BATCH_SIZE = 15  # five batches: a kill can come at the commit of any of the first three
NEWSLAKE = Path(sys.executable).with_name("newslake")
CONTENT_TABLES = ("articles", "entities", "sources", "duplicates")


def _titles_and_sentences() -> tuple[list[str], list[str]]:
    titles, sentences = [], []
    for path in sorted(BBC.glob("*.txt")):
        title, *body = [block.strip() for block in path.read_text().split("\n\n") if block.strip()]
        titles.append(title)
        sentences.extend(s.strip() + "." for p in body for s in p.split(". ") if len(s.split()) > 4)
    return titles, sentences


def write_inbox(folder: Path) -> None:
    """STORIES distinct stories recombined from the BBC fixtures' sentences (deterministic; few
    enough shared sentences that no two are near-duplicates), a few byte-identical copies of some
    of them, and a few files to reject."""
    titles, sentences = _titles_and_sentences()
    rng = random.Random(2024)
    stories = folder / "stories"
    stories.mkdir(parents=True)
    for n in range(1, STORIES + 1):
        picked = rng.sample(sentences, 12)
        paragraphs = [" ".join(picked[i : i + 3]) for i in range(0, len(picked), 3)]
        (stories / f"story_{n:04d}.txt").write_text(rng.choice(titles) + "\n\n" + "\n\n".join(paragraphs) + "\n")
    copies = folder / "copies"
    copies.mkdir()
    for n in range(EXACT_COPIES):
        source = stories / f"story_{n * (STORIES // EXACT_COPIES) + 1:04d}.txt"
        (copies / f"copy_{n}.txt").write_bytes(source.read_bytes())
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (folder / "headline.txt").write_text("A headline and nothing else\n")


def ingest_command(inbox: Path, lake: Path) -> list[str]:
    return [str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(lake), "--batch-size", str(BATCH_SIZE)]


@pytest.fixture(scope="module")
def cli_env(harness_api_url, tmp_path_factory) -> dict[str, str]:
    """The CLI's environment: the session's Prefect server (a killed run's flow run is left Running
    there, which no test reads)."""
    return cli_environment(tmp_path_factory.mktemp("prefect"), harness_api_url)


def start_ingest(inbox: Path, lake: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    # Its own session, so the kill reaches spaCy's workers too.
    with log.open("ab") as out:
        return subprocess.Popen(ingest_command(inbox, lake), env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def ingest_in_this_process(inbox: Path, lake: Path) -> float:
    """The same command run to the end in this process (no start-up of its own: only the runs that
    are killed need processes of their own); returns the flow's own duration."""
    from typer.testing import CliRunner

    from newslake.cli import app

    result = CliRunner().invoke(app, ingest_command(inbox, lake)[1:])
    assert result.exit_code == 0, result.output
    return float(re.findall(r": completed in ([0-9.]+)s", result.output)[-1])


def wait_for_line(process: subprocess.Popen, log: Path, offset: int, pattern: str, nth: int) -> bool:
    """Wait until the run's log (from `offset`) holds `nth` lines matching `pattern`; False if the
    run ended first."""
    while process.poll() is None:
        if len(re.findall(pattern, log.read_bytes()[offset:].decode(errors="replace"))) >= nth:
            return True
        time.sleep(0.01)
    return False


@dataclass(frozen=True)
class Kill:
    """When a run is killed: `delay` seconds after its log's `nth` line matching `anchor`."""
    moment: str
    anchor: str
    nth: int
    delay: float


def during_the_work(share: float, work_seconds: float) -> Kill:
    """`share` of the way through the uninterrupted run's work: reading, parsing, NER or commits."""
    return Kill(f"during the work ({share:.0%})", r"new or changed", 1, share * work_seconds)


def at_commit(batch: int, delay: float) -> Kill:
    """Right after the run's `batch`-th (0-based) NER, when that batch's commit runs."""
    return Kill(f"at commit of batch {batch}", r"Task run 'enrich-", batch + 1, delay)


def kill_run(inbox: Path, lake: Path, env: dict[str, str], log: Path, kill: Kill) -> str | None:
    """Start a run and SIGKILL its whole process group at `kill`. Returns where it was killed, None
    if the run finished first."""
    offset = log.stat().st_size if log.exists() else 0
    process = start_ingest(inbox, lake, env, log)
    if wait_for_line(process, log, offset, kill.anchor, kill.nth):
        try:
            process.wait(timeout=kill.delay)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return kill.moment
    process.wait()
    return None


def lake_contents(lake: Path) -> dict[str, object]:
    """Everything that must match between lakes: counts and id sets per table, files' states."""
    con = open_lake(lake, read_only=True)
    try:
        tables = [t for t, in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'").fetchall()]
        contents: dict[str, object] = {
            f"{table} rows": con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables if table != "runs"
        }
        for table in CONTENT_TABLES:
            contents[f"{table} ids"] = {r[0] for r in con.execute(f"SELECT DISTINCT article_id FROM {table}").fetchall()}
        contents["files"] = sorted(con.execute("SELECT path, status, reason FROM files").fetchall())
        contents["entities"] = sorted(con.execute(
            "SELECT article_id, name, label, start_char FROM entities").fetchall())
        contents["duplicates"] = sorted(con.execute(
            "SELECT source_path, article_id, method FROM duplicates").fetchall())
        return contents
    finally:
        con.close()


def assert_lake_is_sound(lake: Path) -> set[Path]:
    """No repeated ids, no orphan rows, and every data file the catalog references exists and
    reads; returns the referenced data files."""
    con = open_lake(lake, read_only=True)
    try:
        assert con.execute("SELECT count(*) - count(DISTINCT article_id) FROM articles").fetchone()[0] == 0
        assert con.execute("SELECT count(*) - count(DISTINCT path) FROM files").fetchone()[0] == 0
        for table in ("entities", "sources", "duplicates"):
            orphans = con.execute(f"SELECT count(*) FROM {table} WHERE article_id NOT IN (SELECT article_id FROM articles)")
            assert orphans.fetchone()[0] == 0, table
        ingested = con.execute("SELECT count(*) FROM files WHERE status = 'ingested'").fetchone()[0]
        assert ingested == con.execute("SELECT count(*) FROM articles").fetchone()[0]
        tables = [t for t, in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'").fetchall()]
        referenced = [Path(p) for table in tables for p, in con.execute(
            "SELECT data_file FROM ducklake_list_files('lake', ?)", [table]).fetchall()]
    finally:
        con.close()
    plain = duckdb.connect()
    for data_file in referenced:
        assert data_file.is_file(), data_file
        plain.execute("SELECT count(*) FROM read_parquet(?)", [str(data_file)]).fetchone()
    plain.close()
    return set(referenced)


def delete_orphaned_files(lake: Path) -> set[Path]:
    con = open_lake(lake)
    try:
        return {Path(p) for p, in con.execute(
            "SELECT path FROM ducklake_delete_orphaned_files('lake', cleanup_all => true)").fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def crash_inbox(tmp_path_factory) -> Path:
    inbox = tmp_path_factory.mktemp("crash") / "inbox"
    write_inbox(inbox)
    return inbox


@pytest.fixture(scope="module")
def control(crash_inbox, prefect_harness, tmp_path_factory) -> tuple[dict[str, object], float]:
    """The lake one uninterrupted run of the same command builds, and how long its flow took."""
    lake = tmp_path_factory.mktemp("control") / "lake"
    work_seconds = ingest_in_this_process(crash_inbox, lake)
    assert_lake_is_sound(lake)
    return lake_contents(lake), work_seconds


def test_crash_kill9_then_rerun_equals_uninterrupted(crash_inbox, control, cli_env, tmp_path):
    expected, work_seconds = control
    lake, log = tmp_path / "lake", tmp_path / "ingest.log"
    # Commit kills first: each lets a run land at most a batch or two, so the runs after them still
    # have the batches their own kill waits for.
    schedule = (at_commit(1, 0.045), at_commit(0, 0.02), during_the_work(0.4, work_seconds))
    kills = [kill_run(crash_inbox, lake, cli_env, log, kill) for kill in schedule]
    assert any(kills), "every run finished before its kill"
    ingest_in_this_process(crash_inbox, lake)  # the run after the kills finishes the work
    referenced = assert_lake_is_sound(lake)
    assert lake_contents(lake) == expected
    # What killed transactions left in data/ is unreferenced, and removing it changes nothing.
    orphans = delete_orphaned_files(lake)
    assert not orphans & referenced
    assert assert_lake_is_sound(lake) == referenced and lake_contents(lake) == expected
    print(f"kills {kills}, {len(orphans)} orphaned data files removed")
    statuses = [s for s, in duckdb_rows(lake, "SELECT status FROM runs ORDER BY started_at")]
    # Killed runs that got as far as recording their start show as crashed, never as missing.
    assert statuses[-1] == "completed" and "running" not in statuses
    assert statuses.count("crashed") <= sum(kill is not None for kill in kills)


def duckdb_rows(lake: Path, query: str, params=None) -> list[tuple]:
    con = open_lake(lake, read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def test_crash_between_data_commit_and_run_row_shows_as_crashed(small_inbox, lake_dir, prefect_harness, monkeypatch):
    """A run whose batches committed but whose end was never recorded (the process died in
    between) stays `running` until the next run, which marks it `crashed`; its data stays, and its
    row's counts and snapshot are those of what landed, written by each batch's own transaction."""
    import flows.ingest
    from flows.ingest import IngestSettings, ingest

    def process_dies(con, summary):
        raise RuntimeError("simulated death before the run's end is recorded")

    monkeypatch.setattr(flows.ingest, "record_run_end_task", process_dies)
    with pytest.raises(RuntimeError):
        ingest(IngestSettings(seeds=small_inbox, lake=lake_dir, batch_size=2))
    (dead_run, status, finished), = duckdb_rows(lake_dir, "SELECT run_id, status, finished_at FROM runs")
    assert (status, finished) == ("running", None)
    landed = duckdb_rows(lake_dir, """
        SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM articles), (SELECT count(*) FROM duplicates),
               (SELECT count(*) FROM files WHERE status = 'rejected'), (SELECT max(snapshot_id) FROM lake.snapshots())""")
    assert landed[0][:4] == (5, 4, 1, 0)  # small_inbox: 5 files, one an exact copy
    assert duckdb_rows(lake_dir, "SELECT files_seen, articles_new, duplicates, rejected, snapshot_id FROM runs") == landed

    monkeypatch.undo()
    summary = ingest(IngestSettings(seeds=small_inbox, lake=lake_dir))
    runs = dict(duckdb_rows(lake_dir, "SELECT run_id, status FROM runs"))
    assert runs == {dead_run: "crashed", summary.run_id: "completed"}
    assert summary.articles_new == 0 and duckdb_rows(lake_dir, "SELECT count(*) FROM articles") == [(4,)]
    assert duckdb_rows(lake_dir, "SELECT articles_new, duplicates FROM runs WHERE run_id = ?", [dead_run]) == [(4, 1)]


KILLED_MID_TRANSACTION = """
import os, signal, sys
import pyarrow as pa
from tasks.lake import open_lake
from tasks.schema import ARTICLES
con = open_lake(sys.argv[1])
con.register("rows", pa.Table.from_pylist([{"article_id": f"uncommitted-{i}", "body": "text"} for i in range(1000)], ARTICLES))
con.execute("BEGIN")
con.execute("INSERT INTO lake.articles BY NAME SELECT * FROM rows")  # DuckLake writes the Parquet file now
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_crash_orphaned_data_file_is_invisible_and_removable(lake_dir):
    """A writer killed mid-transaction leaves its Parquet file in data/: no reader sees it, and
    ducklake_delete_orphaned_files removes it (safe only while holding the lake's writer lock)."""
    open_lake(lake_dir).close()
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_TRANSACTION, str(lake_dir)],
                            cwd=REPO, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [orphan] = (lake_dir / DATA_DIR).rglob("*.parquet")
    assert duckdb_rows(lake_dir, "SELECT count(*) FROM articles") == [(0,)]
    assert_lake_is_sound(lake_dir)
    assert delete_orphaned_files(lake_dir) == {orphan} and not orphan.exists()
