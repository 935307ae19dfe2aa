"""The lake where DuckDB users already work: the DuckDB shell (`newslake shell`) and Harlequin
(`newslake ide`), both started on an in-memory DuckDB with an init script that loads the
extensions from their PyPI packages by path and attaches the lake read-only.

The init script lives in a temporary folder for the life of the program, never in the lake:
opening the lake and quitting leaves it as it was.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path

import sql
from tasks.lake import CATALOG_FILE, EXTENSIONS, LakeNotFound, _sql_string


class ProgramMissing(Exception):
    """The program a command starts (the DuckDB shell, Harlequin) is not installed."""


def extension_file(name: str, duckdb_version: str) -> Path:
    """The binary of extension `name` for `duckdb_version` (e.g. "1.5.5"), as its PyPI package
    `duckdb-extension-<name>` installs it."""
    package = Path(str(files(f"duckdb_extension_{name}")))
    return package / "extensions" / f"v{duckdb_version}" / f"{name}.duckdb_extension"


def init_script(lake_dir: Path, duckdb_version: str) -> str:
    """The DuckDB init script that attaches the lake at `lake_dir` read-only, in use, with the
    extensions of `duckdb_version` loaded by path. Raises LakeNotFound when there is no lake."""
    lake_dir = lake_dir.resolve()
    catalog = lake_dir / CATALOG_FILE
    if not catalog.exists():
        raise LakeNotFound(f"no lake at {lake_dir} (run `newslake ingest --lake {lake_dir}` first)")
    extensions = {f"{name}_extension": _sql_string(str(extension_file(name, duckdb_version))) for name in EXTENSIONS}
    # A script cannot take parameters: every value goes in as a quoted literal.
    return sql.load("shell_init").format(catalog=_sql_string(f"ducklake:sqlite:{catalog}"), **extensions)


def shell_program() -> Path:
    """The DuckDB shell binary from the `duckdb-cli` package."""
    try:
        version("duckdb-cli")
    except PackageNotFoundError:
        raise ProgramMissing("the DuckDB shell (PyPI package duckdb-cli) is not installed") from None
    return Path(str(files("duckdb_cli"))) / "duckdb"


def run_shell(lake_dir: Path, command: str | None = None, shell_args: Sequence[str] = ()) -> int:
    """Run the DuckDB shell on the lake, interactive or, with `command`, for that one statement
    (as `duckdb -c`); `shell_args` go to the shell as they are (`-json`, `-csv`, ...).
    Returns the shell's exit status."""
    program = shell_program()
    with written_init_script(init_script(lake_dir, version("duckdb-cli"))) as script:
        # Read with -cmd, not -init: the user's own ~/.duckdbrc (.timer, .mode, ...) still applies.
        argv = [str(program), "-cmd", f'.read "{script}"', *shell_args]
        if command is not None:
            argv += ["-c", command]
        return run_in_foreground(argv)


def run_ide(lake_dir: Path) -> int:
    """Run Harlequin on the lake (its duckdb adapter, in memory, through the init script).
    Returns Harlequin's exit status."""
    try:
        version("harlequin")
    except PackageNotFoundError:
        raise ProgramMissing("Harlequin is not installed (it comes with an extra: pip install 'newslake[ide]')") \
            from None
    import duckdb

    with written_init_script(init_script(lake_dir, duckdb.__version__)) as script:
        return run_in_foreground([sys.executable, "-m", "harlequin", "--adapter", "duckdb",
                                  "--init-path", str(script), ":memory:"])


@contextmanager
def written_init_script(text: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="newslake-shell-") as folder:
        script = Path(folder) / "init.sql"
        script.write_text(text, encoding="utf-8")
        yield script


def run_in_foreground(argv: list[str]) -> int:
    """Run an interactive program and wait for it. Ctrl-C reaches the program (it is in the
    terminal's foreground group) and must not end this process, which cleans up after it.
    A handler, not SIG_IGN: an ignored signal would stay ignored in the program too."""
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        returncode = subprocess.run(argv).returncode
    finally:
        signal.signal(signal.SIGINT, previous)
    if returncode < 0:  # the program itself crashed: say so, as a shell reports a killed command
        print(f"Error: {Path(argv[0]).name} was killed by {signal.Signals(-returncode).name}", file=sys.stderr)
        return 128 - returncode
    return returncode
