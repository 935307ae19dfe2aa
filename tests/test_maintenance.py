"""Lake maintenance: compaction and snapshot expiry drop files and history, never a row; and the
`newslake runs` listing of run history.

Two lakes are built once for the module, in small commits, and maintained once each: one
expiring all history (retention 0), one keeping it (retention 30). What that first maintenance did
is recorded when it runs, so the tests that go on maintaining the first lake, or ingesting into the
second, change nothing another test reads.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newslake.cli import app
from tests.conftest import BBC, lake_rows

pytestmark = pytest.mark.usefixtures("prefect_harness")
INBOX_FILES = 10
BATCH_SIZE = 4  # three batches: small files for maintenance to merge, and history to expire
TABLES = ["articles", "entities", "sources", "duplicates", "files", "runs"]
runner = CliRunner()


FIRST_BATCH_SNAPSHOT = "SELECT snapshot_id FROM lake.snapshots() WHERE commit_extra_info LIKE '%\"batch\": 0}'"


def lake_state(lake: Path, version: int | None = None) -> dict[str, object]:
    """Counts of every table, and the article ids and entity mentions, now or at a past snapshot."""
    at = f" AT (VERSION => {int(version)})" if version is not None else ""
    state: dict[str, object] = {t: lake_rows(lake, f"SELECT count(*) FROM {t}{at}")[0][0] for t in TABLES}
    state["article_ids"] = [r[0] for r in lake_rows(lake, f"SELECT article_id FROM articles{at} ORDER BY 1")]
    state["entities"] = lake_rows(lake, f"SELECT article_id, start_char, name FROM entities{at} ORDER BY ALL")
    return state


@pytest.fixture(scope="module")
def ten_articles(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    for path in sorted(BBC.glob("*.txt"))[:INBOX_FILES]:
        shutil.copy(path, folder / path.name)
    return folder


@dataclass(frozen=True)
class Maintained:
    """A lake built in three batches (three snapshots, and small Parquet files of each table), then
    maintained once: its state before and after, the report, and its state at its first batch's
    snapshot read after the maintenance."""

    lake: Path
    before: dict[str, object]
    after: dict[str, object]
    report: object  # flows.maintenance's report
    at_first_batch: dict[str, object] | None  # None where history was expired


def build_and_maintain(inbox: Path, lake: Path, retention_days: int) -> Maintained:
    from flows.ingest import IngestSettings, ingest
    from flows.maintenance import MaintenanceSettings, maintenance

    ingest(IngestSettings(seeds=inbox, lake=lake, batch_size=BATCH_SIZE))
    before = lake_state(lake)
    first_batch = min(snapshot for snapshot, in lake_rows(lake, FIRST_BATCH_SNAPSHOT))
    report = maintenance(MaintenanceSettings(lake=lake, retention_days=retention_days))
    at_first_batch = lake_state(lake, version=first_batch) if retention_days else None
    return Maintained(lake, before, lake_state(lake), report, at_first_batch)


@pytest.fixture(scope="module")
def maintained_without_history(ten_articles, tmp_path_factory, prefect_harness) -> Maintained:
    """Maintained with retention_days 0; the tests given it may maintain it again."""
    return build_and_maintain(ten_articles, tmp_path_factory.mktemp("no_history") / "lake", retention_days=0)


@pytest.fixture(scope="module")
def maintained_with_history(ten_articles, tmp_path_factory, prefect_harness) -> Maintained:
    """Maintained with retention_days 30; the tests given it may ingest into it again."""
    return build_and_maintain(ten_articles, tmp_path_factory.mktemp("history") / "lake", retention_days=30)


MAINTAINED_WITH_RETENTION = {0: "maintained_without_history", 30: "maintained_with_history"}


@pytest.mark.parametrize("retention_days, history_kept", [(0, False), (30, True)])
def test_maintenance_keeps_every_row(request, retention_days, history_kept):
    maintained: Maintained = request.getfixturevalue(MAINTAINED_WITH_RETENTION[retention_days])
    report = maintained.report
    assert maintained.after == maintained.before
    if history_kept:  # merged files replace the small ones, which older snapshots still need
        assert report.after.snapshots > report.before.snapshots
        assert report.after.data_files > report.before.data_files
        assert maintained.at_first_batch["articles"] == BATCH_SIZE
    else:
        assert report.after.snapshots == 1
        assert report.after.data_files < report.before.data_files / 2


def test_maintenance_twice_changes_nothing_more(maintained_without_history):
    from flows.maintenance import MaintenanceSettings, maintenance

    again = maintenance(MaintenanceSettings(lake=maintained_without_history.lake, retention_days=0))
    assert again.after.data_files == again.before.data_files


def test_maintenance_publishes_artifact(maintained_without_history):
    from prefect.artifacts import Artifact

    from flows.maintenance import MaintenanceSettings, maintenance

    maintenance(MaintenanceSettings(lake=maintained_without_history.lake, retention_days=0))
    artifact = Artifact.get("maintenance-summary")
    assert artifact is not None and "data files" in str(artifact.data)


def test_cli_maintain_prints_before_and_after(maintained_without_history):
    result = runner.invoke(app, ["maintain", "--lake", str(maintained_without_history.lake), "--retention-days", "0"])
    assert result.exit_code == 0, result.output
    assert "data files" in result.output and "snapshots" in result.output


def test_cli_maintain_missing_lake_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["maintain", "--lake", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no lake" in result.output


def test_cli_runs_lists_newest_first(maintained_with_history, ten_articles):
    from flows.ingest import IngestSettings, ingest

    lake = maintained_with_history.lake  # maintenance leaves the runs as they were
    second = ingest(IngestSettings(seeds=ten_articles, lake=lake))
    result = runner.invoke(app, ["runs", "--lake", str(lake), "--limit", "5", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["run_id"] for r in rows][0] == second.run_id and len(rows) == 2
    assert rows[0]["status"] == "completed" and rows[0]["new"] == 0 and rows[1]["new"] == INBOX_FILES
    assert rows[1]["seen"] == INBOX_FILES and rows[1]["seconds"] > 0
