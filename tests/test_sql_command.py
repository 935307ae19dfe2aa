"""`newslake sql` (streamed results, parquet files, SQL on stdin) and the `newslake runs` table,
run as the installed console script on real lakes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from newslake.cli import FETCH_ROWS
from tasks.lake import open_lake
from tests.conftest import lake_rows

NEWSLAKE = str(Path(sys.executable).parent / "newslake")
EXAMPLES = sorted((Path(__file__).parent.parent / "sql" / "examples").glob("*.sql"))


def run_newslake(*args: str, stdin=None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([NEWSLAKE, *args], capture_output=True, text=True, stdin=stdin, timeout=120,
                          env={**os.environ, **(env or {})})


def test_sql_reads_the_query_from_stdin(seeded_lake):
    result = subprocess.run([NEWSLAKE, "sql", "--lake", str(seeded_lake), "-f", "json"],
                            input="SELECT count(*) AS n FROM articles", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": lake_rows(seeded_lake, "SELECT count(*) FROM articles")[0][0]}]


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_sql_runs_every_example_file_from_stdin(seeded_lake, example):
    with example.open() as stdin:
        result = run_newslake("sql", "--lake", str(seeded_lake), "-f", "csv", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert next(csv.reader(io.StringIO(result.stdout)))  # a header row: the query ran and named its columns


def test_sql_with_no_query_is_a_clear_error(seeded_lake):
    result = subprocess.run([NEWSLAKE, "sql", "--lake", str(seeded_lake)], input="  \n", capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "no query" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_sql_streams_a_result_of_many_fetches_whole(seeded_lake, fmt):
    rows = FETCH_ROWS * 2 + 7  # three fetches, the last one partial
    result = run_newslake("sql", "--lake", str(seeded_lake), "-f", fmt,
                          f"SELECT i, 'row ' || i AS label FROM range({rows}) AS t(i) ORDER BY i")
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        parsed = json.loads(result.stdout)
        assert len(parsed) == rows and parsed[FETCH_ROWS] == {"i": FETCH_ROWS, "label": f"row {FETCH_ROWS}"}
    else:
        lines = list(csv.reader(io.StringIO(result.stdout)))
        assert lines[0] == ["i", "label"] and len(lines) == rows + 1 and lines[-1] == [str(rows - 1), f"row {rows - 1}"]


def test_sql_table_shows_max_rows_and_says_there_are_more(seeded_lake):
    result = run_newslake("sql", "--lake", str(seeded_lake), "--max-rows", "3",
                          "SELECT i FROM range(100000000) AS t(i)")
    assert result.returncode == 0, result.stderr
    assert "first 3 rows" in result.stdout
    assert [line for line in result.stdout.splitlines() if line.strip("│ ").isdigit()] == ["│ 0 │", "│ 1 │", "│ 2 │"]


def test_sql_parquet_output_holds_the_rows(seeded_lake, tmp_path):
    output = tmp_path / "entities.parquet"
    result = run_newslake("sql", "--lake", str(seeded_lake), "--format", "parquet", "--output", str(output),
                          "SELECT article_id, name, label FROM entities ORDER BY article_id, start_char")
    assert result.returncode == 0, result.stderr
    expected = lake_rows(seeded_lake, "SELECT article_id, name, label FROM entities ORDER BY article_id, start_char")
    table = pq.read_table(output)
    assert table.column_names == ["article_id", "name", "label"]
    assert list(zip(*(table.column(c).to_pylist() for c in table.column_names))) == expected
    assert len(expected) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entities.parquet"]


def test_sql_parquet_needs_an_output_file(seeded_lake):
    result = run_newslake("sql", "--lake", str(seeded_lake), "--format", "parquet", "SELECT 1")
    assert result.returncode == 1
    assert "--output" in result.stderr and "Traceback" not in result.stderr


def test_sql_failed_query_leaves_no_output_file(seeded_lake, tmp_path):
    output = tmp_path / "out.csv"
    result = run_newslake("sql", "--lake", str(seeded_lake), "-f", "csv", "-o", str(output),
                          "SELECT i, CASE WHEN i < 25000 THEN 'fine' ELSE error('a failure mid-result') END AS state "
                          "FROM range(30000) AS t(i) ORDER BY i")
    assert result.returncode == 1 and "Error" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def lake_of_close_runs(tmp_path):
    """A lake with three runs, two of whose ids share their first 11 characters (as time-ordered
    UUIDs made close together do)."""
    lake = tmp_path / "lake"
    con = open_lake(lake)
    started = datetime(2026, 1, 2, 23, 30, tzinfo=UTC)
    ids = ["0193a1b2-7c00-7000-8000-000000000001", "0193a1b2-7c4f-7000-8000-000000000002",
           "5f3e9a10-0000-4000-8000-000000000003"]
    for n, run_id in enumerate(ids):
        con.execute("INSERT INTO runs (run_id, flow, started_at, finished_at, status, files_seen, articles_new, "
                    "duplicates, rejected, snapshot_id) VALUES (?, 'ingest', ?, ?, 'completed', 123456, 12345, 1234, "
                    "123, 99999)", [run_id, started + timedelta(hours=n), started + timedelta(hours=n, seconds=1234.5)])
    con.close()
    return lake, ids, started


def test_runs_table_fits_80_columns_with_short_ids_and_local_times(lake_of_close_runs):
    lake, ids, started = lake_of_close_runs
    result = run_newslake("runs", "--lake", str(lake), env={"TZ": "Asia/Kathmandu", "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert "…" not in result.stdout  # nothing cut short to fit
    # 7 characters at least, and as many as it takes for no two runs to share one: 12 here
    assert {line.split()[0] for line in lines[1:]} == {run_id[:12] for run_id in ids}
    assert not any(run_id in result.stdout for run_id in ids)
    kathmandu = ZoneInfo("Asia/Kathmandu")
    for n in range(3):
        assert (started + timedelta(hours=n)).astimezone(kathmandu).strftime("%Y-%m-%d %H:%M:%S") in result.stdout


def test_runs_json_keeps_the_whole_id(lake_of_close_runs):
    lake, ids, _ = lake_of_close_runs
    result = run_newslake("runs", "--lake", str(lake), "-f", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["run_id"] for row in rows] == ids[::-1]  # newest first
    assert all(row["run_id"].startswith(row["run"]) for row in rows)
