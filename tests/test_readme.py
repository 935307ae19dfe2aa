"""Every snippet in the READMEs runs: each fenced block of README.md and sql/examples/README.md is
a test of its own, run as a user would run it from the project folder, on a real lake.

- ```sh / ```bash / ```shell blocks run with bash (-e: every command must succeed), with stdin
  closed, in a temporary folder laid out like the project after `make run`: `.venv` and `sql/`
  linked to this project's, `seeds/` a copy, `lake/` ingested from it. The blocks run in order in
  that one folder, as a user would follow the README (a block may write the lake). Prefect flows
  they start use the tests' Prefect server.
- ```python blocks run with the venv's Python in that folder.
- ```sql blocks run through `newslake sql` on that lake.
- Blocks of any other language (```text, or none) show output or layout; they are not run.

A block that cannot run in a test (it starts a long-running or interactive program: watch, ui,
worker, ide; or it needs a fresh clone: `make run`) is marked on the line right before its fence:

    <!-- readme-test: skip because <the reason> -->

and the test reports it as skipped with that reason. A new block with no marker is run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ingest_seeds

PROJECT = Path(__file__).parent.parent
READMES = [PROJECT / "README.md", PROJECT / "sql" / "examples" / "README.md"]
SKIP_MARKER = re.compile(r"<!--\s*readme-test:\s*skip because (?P<reason>.+?)\s*-->")
FENCE = re.compile(r"^```(?P<language>[\w-]*)\s*$")
SHELL_LANGUAGES = {"sh", "bash", "shell"}
RUN_LANGUAGES = SHELL_LANGUAGES | {"python", "sql"}
TIMEOUT_SECONDS = 600


@dataclass
class Block:
    readme: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.readme.relative_to(PROJECT)}:{self.line}-{self.language or 'text'}"


def fenced_blocks(readme: Path) -> list[Block]:
    lines = readme.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    opening: int | None = None
    for number, line in enumerate(lines):
        fence = FENCE.match(line)
        if fence is None:
            continue
        if opening is None:
            opening = number
            continue
        language = FENCE.match(lines[opening]).group("language")
        marker = SKIP_MARKER.search(lines[opening - 1]) if opening else None
        blocks.append(Block(readme, opening + 1, language, "\n".join(lines[opening + 1:number]) + "\n",
                            marker.group("reason") if marker else None))
        opening = None
    return blocks


BLOCKS = [block for readme in READMES for block in fenced_blocks(readme) if block.language in RUN_LANGUAGES]


def test_readmes_have_runnable_blocks():
    languages = {block.language for block in BLOCKS}
    assert {"sh", "python", "sql"} <= languages


@pytest.fixture(scope="module")
def project_folder(tmp_path_factory, prefect_harness) -> Path:
    """A folder laid out as the project is after `make run`."""
    folder = tmp_path_factory.mktemp("project")
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (folder / "sql").symlink_to(PROJECT / "sql")
    ingest_seeds(folder / "seeds", folder / "lake")
    return folder


@pytest.fixture(scope="module")
def block_environment(harness_api_url) -> dict[str, str]:
    """The environment blocks run in: the lake is ./lake, and a flow a block starts reports to the
    tests' Prefect server rather than starting one of its own."""
    return {**os.environ, "NEWSLAKE_LAKE": "lake", "PREFECT_API_URL": harness_api_url}


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_readme_block_runs(block: Block, project_folder: Path, block_environment: dict[str, str]):
    if block.skip_reason:
        pytest.skip(f"{block.id}: {block.skip_reason}")
    if block.language in SHELL_LANGUAGES:
        argv = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    elif block.language == "python":
        argv = [sys.executable, "-c", block.code]
    else:
        argv = [str(project_folder / ".venv" / "bin" / "newslake"), "sql", "--lake", "lake", "-f", "csv", block.code]
    result = subprocess.run(argv, cwd=project_folder, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=TIMEOUT_SECONDS, env=block_environment)
    assert result.returncode == 0, \
        f"{block.id} failed:\n{block.code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
