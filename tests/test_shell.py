"""`newslake shell` and `newslake ide`: the real DuckDB shell and Harlequin on a real lake.

The interactive tests drive the programs in a terminal with tmux (send keys, read the screen with
capture-pane); they are skipped, saying so, where tmux is not installed (it is not a PyPI package:
`apt-get install tmux`). The Harlequin test is skipped, saying so, without the `ide` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import pytest

from newslake.shell import extension_file
from tasks.lake import EXTENSIONS
from tests.conftest import lake_rows, lake_state

NEWSLAKE = str(Path(sys.executable).parent / "newslake")
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (apt-get install tmux): these tests need a terminal")
needs_harlequin = pytest.mark.skipif(find_spec("harlequin") is None,
                                     reason="Harlequin is not installed: pip install -e '.[ide]'")


def snapshot_count(lake: Path) -> int:
    return lake_rows(lake, "SELECT count(*) FROM ducklake_snapshots('lake')")[0][0]


def run_newslake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NEWSLAKE, *args], capture_output=True, text=True, timeout=120)


class Terminal:
    """A program running in a tmux session of its own (a private tmux server)."""

    def __init__(self, socket: Path, command: list[str], width: int = 120, height: int = 40):
        self.tmux = ["tmux", "-S", str(socket)]
        # COLUMNS and LINES (pytest's terminal) would override the window's size in the programs.
        environment = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
        subprocess.run([*self.tmux, "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                        *command], check=True, env=environment)

    def type(self, text: str) -> None:
        # -l: the text as it is (tmux would read a trailing ";" as a command separator)
        subprocess.run([*self.tmux, "send-keys", "-t", "t", "-l", text], check=True)

    def press(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "t", *keys], check=True)

    def screen(self) -> str:
        result = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True)
        return result.stdout

    def wait_for(self, *texts: str, timeout: float = 90) -> str:
        """The screen once it shows every one of `texts` (or as it is when `timeout` runs out)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts) or time.monotonic() > deadline:
                return screen
            time.sleep(0.3)

    def wait_closed(self, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if subprocess.run([*self.tmux, "has-session", "-t", "t"], capture_output=True).returncode != 0:
                return True
            time.sleep(0.3)
        return False

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def terminal_socket(tmp_path):
    terminals: list[Terminal] = []

    def start(command: list[str]) -> Terminal:
        terminals.append(Terminal(tmp_path / "tmux.sock", command))
        return terminals[-1]

    yield start
    for terminal in terminals:
        terminal.close()


def open_lake_node(terminal: Terminal, texts: list[str], timeout: float = 90) -> str:
    """Open the catalog's lake node and its schema's until the screen shows `texts`: keys are
    sent again while Harlequin is still loading its catalog (which redraws the tree)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = terminal.screen()
        if all(text in screen for text in texts) or time.monotonic() > deadline:
            return screen
        lines = screen.splitlines()
        lake_line = next((i for i, line in enumerate(lines) if "lake db" in line), None)
        if lake_line is not None:
            # F6 focuses the catalog; the lake is its first node; Space opens the node at the cursor.
            terminal.press("F6", "Up", "Up", "Up")
            if "▶ lake db" in lines[lake_line]:
                terminal.press("Space")
            elif lake_line + 1 < len(lines) and "▶ main sch" in lines[lake_line + 1]:
                terminal.press("Down", "Space")
        time.sleep(1)


@pytest.mark.parametrize("name", EXTENSIONS)
def test_extension_packages_match_the_duckdb_shell(name):
    assert extension_file(name, version("duckdb-cli")).is_file()


def test_shell_command_answers_from_the_lake_and_leaves_no_trace(seeded_lake):
    before, snapshots = lake_state(seeded_lake), snapshot_count(seeded_lake)
    query = "SELECT count(*) AS articles, count(DISTINCT outlet) AS outlets FROM articles"
    result = run_newslake("shell", "--lake", str(seeded_lake), "-c", query, "--", "-json")
    assert result.returncode == 0, result.stderr
    expected = lake_rows(seeded_lake, "SELECT count(*), count(DISTINCT outlet) FROM articles")[0]
    assert json.loads(result.stdout) == [{"articles": expected[0], "outlets": expected[1]}]
    assert expected[0] > 0
    assert lake_state(seeded_lake) == before
    assert snapshot_count(seeded_lake) == snapshots


@pytest.mark.parametrize("statement", [
    "INSERT INTO runs (run_id, flow) VALUES ('x', 'shell')",
    "UPDATE articles SET title = 'changed'",
    "DELETE FROM files",
    "DROP TABLE entities",
    "CREATE TABLE notes (note VARCHAR)",
    "ALTER TABLE articles ADD COLUMN note VARCHAR",
    "CALL lake.set_option('data_inlining_row_limit', 10)",
], ids=["insert", "update", "delete", "drop", "create", "alter", "set_option"])
def test_shell_write_is_refused_and_the_lake_unchanged(seeded_lake, statement):
    before, snapshots = lake_state(seeded_lake), snapshot_count(seeded_lake)
    titles = lake_rows(seeded_lake, "SELECT title FROM articles ORDER BY title")
    result = run_newslake("shell", "--lake", str(seeded_lake), "-c", statement)
    assert result.returncode != 0
    # duckdb-cli 1.5.5 crashes (SIGSEGV) on DuckLake's set_option against a read-only lake rather
    # than refusing it in words; newslake says so, and the lake is untouched either way.
    assert "read-only" in result.stderr or "was killed by SIGSEGV" in result.stderr
    assert lake_state(seeded_lake) == before
    assert snapshot_count(seeded_lake) == snapshots
    assert lake_rows(seeded_lake, "SELECT title FROM articles ORDER BY title") == titles


def test_shell_without_a_lake_is_one_clear_error(tmp_path):
    result = run_newslake("shell", "--lake", str(tmp_path / "nowhere"), "-c", "SELECT 1")
    assert result.returncode == 1
    assert "no lake at" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


@needs_tmux
def test_shell_interactive_query_and_quit(seeded_lake, terminal_socket):
    before, snapshots = lake_state(seeded_lake), snapshot_count(seeded_lake)
    titles = [title for (title,) in lake_rows(seeded_lake, "SELECT title FROM articles ORDER BY title LIMIT 3")]
    terminal = terminal_socket([NEWSLAKE, "shell", "--lake", str(seeded_lake)])
    assert "lake D" in terminal.wait_for("lake D"), terminal.screen()  # the prompt names the database in use
    terminal.type("SELECT title FROM articles ORDER BY title LIMIT 3; ")
    terminal.press("Enter")
    screen = terminal.wait_for(*titles)
    assert all(title in screen for title in titles), screen
    terminal.type(".quit")
    terminal.press("Enter")
    assert terminal.wait_closed(), terminal.screen()
    assert lake_state(seeded_lake) == before
    assert snapshot_count(seeded_lake) == snapshots


@needs_tmux
@needs_harlequin
def test_ide_catalog_shows_the_lake_tables(seeded_lake, terminal_socket):
    before = lake_state(seeded_lake)
    tables = [name for (name,) in lake_rows(seeded_lake, "SELECT table_name FROM duckdb_tables() "
                                                         "WHERE database_name = 'lake'")]
    terminal = terminal_socket([NEWSLAKE, "ide", "--lake", str(seeded_lake)])
    screen = terminal.wait_for("Data Catalog", "lake db")
    assert "lake db" in screen, screen
    screen = open_lake_node(terminal, [f"{table} t" for table in tables])
    assert all(f"{table} t" in screen for table in tables), screen
    terminal.press("C-q")
    assert terminal.wait_closed(), terminal.screen()
    assert lake_state(seeded_lake) == before
