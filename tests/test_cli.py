"""The `newslake` command line: its contract (commands, options, formats, exit codes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newslake.cli import app
from tests.conftest import BBC, SEED, lake_rows

runner = CliRunner()


@pytest.fixture(scope="module")
def ingest_once(tmp_path_factory, prefect_harness) -> tuple[Path, str]:
    """One `newslake ingest` of the inbox fixture, whose lake the tests below only read: (lake, output)."""
    base = tmp_path_factory.mktemp("cli")
    inbox = base / "inbox"
    shutil.copytree(BBC, inbox / "bbc")
    shutil.copy(SEED, inbox / SEED.name)
    result = runner.invoke(app, ["ingest", "--seeds", str(inbox), "--lake", str(base / "lake")])
    assert result.exit_code == 0, result.output
    return base / "lake", result.output


@pytest.fixture
def ingested_lake(ingest_once) -> Path:
    return ingest_once[0]


def test_cli_ingest_prints_summary(ingest_once):
    output = ingest_once[1]
    assert "new articles      33" in output
    assert "duplicates        1 (1 exact)" in output
    assert "rejected          0" in output


def runs_and_counts(lake: Path) -> tuple[list[dict], list[dict]]:
    runs = runner.invoke(app, ["sql", "--lake", str(lake), "-f", "json",
                               "SELECT status, files_seen, articles_new FROM runs ORDER BY started_at"])
    counts = runner.invoke(app, ["sql", "--lake", str(lake), "-f", "json",
                                 "SELECT (SELECT count(*) FROM files) AS files, (SELECT count(*) FROM articles) AS articles"])
    return json.loads(runs.output), json.loads(counts.output)


def test_cli_ingest_again_nothing_new_skips_the_flow_but_records_the_run(small_inbox, lake_dir, prefect_harness):
    """Run again untouched: no flow run, one more runs row. Then with a file touched (same
    content, new mtime): the flow runs to rehash it, and adds nothing either."""
    inbox = small_inbox  # 5 files, 4 articles
    assert runner.invoke(app, ["ingest", "--seeds", str(inbox), "--lake", str(lake_dir)]).exit_code == 0
    for run, touch in enumerate([False, True], start=2):
        if touch:
            path = next(inbox.rglob("*.txt"))
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        result = runner.invoke(app, ["ingest", "--seeds", str(inbox), "--lake", str(lake_dir)])
        assert result.exit_code == 0, result.output
        assert ("nothing new" in result.output) is not touch
        runs, counts = runs_and_counts(lake_dir)
        assert runs[-1] == {"status": "completed", "files_seen": 5, "articles_new": 0}
        assert len(runs) == run
        assert counts == [{"files": 5, "articles": 4}]


def test_cli_ingest_reads_environment(tmp_path, prefect_harness, monkeypatch):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    shutil.copy(SEED, inbox / SEED.name)
    monkeypatch.setenv("NEWSLAKE_SEEDS", str(inbox))
    monkeypatch.setenv("NEWSLAKE_LAKE", str(lake))
    result = runner.invoke(app, ["ingest"])
    assert result.exit_code == 0, result.output
    assert "new articles      1" in result.output
    assert (lake / "catalog.sqlite").exists()


def test_cli_ingest_missing_inbox_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["ingest", "--seeds", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_cli_ingest_into_a_lake_missing_a_data_file_is_one_clear_error(small_inbox, lake_dir, prefect_harness,
                                                                        monkeypatch):
    """A lake folder that lost a file its catalog lists: read by the flow (the dedup's history, after
    its retries), then before it (the `files` table, read to find what is new). Each time one error
    that names the file and what to check, exit 1, no traceback; the lake keeps what it had."""
    from tasks.batch_dedup import dedup_task

    monkeypatch.setattr(dedup_task, "retry_delay_seconds", 0.01)
    assert runner.invoke(app, ["ingest", "--seeds", str(small_inbox), "--lake", str(lake_dir)]).exit_code == 0
    shutil.copy(BBC / "tech_020.txt", small_inbox / "bbc" / "tech_020.txt")  # something new: a flow run
    for table in ("minhash_bands", "files"):
        lost = next((lake_dir / "data" / "main" / table).glob("*.parquet"))
        lost.unlink()
        result = runner.invoke(app, ["ingest", "--seeds", str(small_inbox), "--lake", str(lake_dir)])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)  # typer.Exit: no traceback
        assert f"Error: the lake at {lake_dir.resolve()} could not be read or written" in result.output
        assert lost.name in result.output
        assert "holds every file its catalog lists" in result.output
    assert lake_rows(lake_dir, "SELECT count(*) FROM articles") == [(4,)]
    # The flow's run is recorded as failed; the second attempt failed before a run began.
    assert lake_rows(lake_dir, "SELECT status FROM runs ORDER BY started_at") == [("completed",), ("failed",)]


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_cli_sql_formats(ingested_lake, fmt):
    result = runner.invoke(app, ["sql", "--lake", str(ingested_lake), "--format", fmt,
                                 "SELECT title, authors FROM articles WHERE outlet = 'Newser'"])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.output) == [
            {"title": "Russian Military Chiefs Aren't Taking Calls From US", "authors": ["Rob Quinn"]}]
    elif fmt == "csv":
        assert result.output.splitlines()[0] == "title,authors"
    else:
        assert "Russian Military Chiefs" in result.output and "(1 rows)" in result.output


@pytest.mark.parametrize("table", ["articles", "entities", "sources", "duplicates", "files", "runs"])
def test_cli_sql_contract_tables_unqualified(ingested_lake, table):
    result = runner.invoke(app, ["sql", "--lake", str(ingested_lake), "--format", "json",
                                 f"SELECT count(*) AS n FROM {table}"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["n"] > 0


def test_cli_sql_is_read_only(ingested_lake):
    result = runner.invoke(app, ["sql", "--lake", str(ingested_lake), "DELETE FROM articles"])
    assert result.exit_code == 1
    assert "read-only" in result.output
    count = runner.invoke(app, ["sql", "--lake", str(ingested_lake), "-f", "json", "SELECT count(*) AS n FROM articles"])
    assert json.loads(count.output)[0]["n"] == 33


def test_cli_sql_bad_query_is_one_clear_error(ingested_lake):
    result = runner.invoke(app, ["sql", "--lake", str(ingested_lake), "SELEC nonsense"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


def test_cli_sql_missing_lake(tmp_path):
    result = runner.invoke(app, ["sql", "--lake", str(tmp_path / "none"), "SELECT 1"])
    assert result.exit_code == 1 and "no lake" in result.output
    assert not (tmp_path / "none").exists()


def test_connect_gives_unqualified_names(ingested_lake):
    import newslake

    con = newslake.connect(lake=ingested_lake)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 33


COMMANDS = [info.name or info.callback.__name__ for info in app.registered_commands]


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_every_command_documents_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: newslake " + command in result.output


def test_cli_help_does_not_import_heavy_modules():
    code = ("import sys; from newslake.cli import app; "
            "print(sorted(m for m in ('spacy', 'prefect', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_reading_the_lake_does_not_import_arrow(ingested_lake):
    """Arrow is for writing the lake; a read-only command (`newslake sql`, `runs`) starts without it."""
    code = ("import sys, newslake; con = newslake.connect(sys.argv[1]); "
            "con.execute('SELECT count(*) FROM articles').fetchall(); "
            "print(sorted(m for m in ('pyarrow', 'numpy', 'tasks.schema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(ingested_lake)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_console_script_keeps_exit_codes_and_every_line_of_output(ingested_lake, tmp_path):
    """The console script ends the process without interpreter teardown (newslake.cli.main): the
    exit code and all output, piped or not, must be what the command produced."""
    newslake = Path(sys.executable).with_name("newslake")
    listing = subprocess.run([str(newslake), "sql", "--lake", str(ingested_lake), "--format", "csv",
                              "SELECT article_id FROM articles ORDER BY article_id"], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == 1 + 33
    failed = subprocess.run([str(newslake), "sql", "--lake", str(ingested_lake), "SELECT nonsense"],
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "Error:" in failed.stderr
    usage = subprocess.run([str(newslake), "ingest", "--batch-size", "0"], capture_output=True, text=True)
    assert usage.returncode == 2
    # A reader that stops early: no traceback, and the command's own code.
    head = subprocess.run(f"'{newslake}' sql --lake '{ingested_lake}' --format csv 'SELECT * FROM range(100000)' | head -1",
                          shell=True, capture_output=True, text=True)
    assert head.stdout == "range\n" and "Traceback" not in head.stderr
