"""Lake maintenance: compaction and snapshot expiry drop files and history, never a row; and the
`newslake runs` listing of run history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newslake.cli import app
from tests.conftest import BBC, lake_rows

pytestmark = pytest.mark.usefixtures("prefect_harness")
INBOX_FILES = 10
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
def small_inbox(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    for path in sorted(BBC.glob("*.txt"))[:INBOX_FILES]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def many_commits_lake(small_inbox, lake_dir) -> Path:
    """A lake built in batches of 2 files: many snapshots, many small Parquet files."""
    from flows.ingest import IngestSettings, ingest

    ingest(IngestSettings(seeds=small_inbox, lake=lake_dir, batch_size=2))
    return lake_dir


@pytest.mark.parametrize("retention_days, history_kept", [(0, False), (30, True)])
def test_maintenance_keeps_every_row(many_commits_lake, retention_days, history_kept):
    from flows.maintenance import MaintenanceSettings, maintenance

    before = lake_state(many_commits_lake)
    first_batch = min(snapshot for snapshot, in lake_rows(many_commits_lake, FIRST_BATCH_SNAPSHOT))
    report = maintenance(MaintenanceSettings(lake=many_commits_lake, retention_days=retention_days))
    assert lake_state(many_commits_lake) == before
    if history_kept:  # merged files replace the small ones, which older snapshots still need
        assert report.after.snapshots > report.before.snapshots
        assert report.after.data_files > report.before.data_files
        assert lake_state(many_commits_lake, version=first_batch)["articles"] == 2
    else:
        assert report.after.snapshots == 1
        assert report.after.data_files < report.before.data_files / 2


def test_maintenance_twice_changes_nothing_more(many_commits_lake):
    from flows.maintenance import MaintenanceSettings, maintenance

    settings = MaintenanceSettings(lake=many_commits_lake, retention_days=0)
    maintenance(settings)
    again = maintenance(settings)
    assert again.after.data_files == again.before.data_files


def test_maintenance_publishes_artifact(many_commits_lake):
    from prefect.artifacts import Artifact

    from flows.maintenance import MaintenanceSettings, maintenance

    maintenance(MaintenanceSettings(lake=many_commits_lake, retention_days=0))
    artifact = Artifact.get("maintenance-summary")
    assert artifact is not None and "data files" in str(artifact.data)


def test_cli_maintain_prints_before_and_after(many_commits_lake):
    result = runner.invoke(app, ["maintain", "--lake", str(many_commits_lake), "--retention-days", "0"])
    assert result.exit_code == 0, result.output
    assert "data files" in result.output and "snapshots" in result.output


def test_cli_maintain_missing_lake_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["maintain", "--lake", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no lake" in result.output


def test_cli_runs_lists_newest_first(many_commits_lake, small_inbox):
    from flows.ingest import IngestSettings, ingest

    second = ingest(IngestSettings(seeds=small_inbox, lake=many_commits_lake))
    result = runner.invoke(app, ["runs", "--lake", str(many_commits_lake), "--limit", "5", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["run_id"] for r in rows][0] == second.run_id and len(rows) == 2
    assert rows[0]["status"] == "completed" and rows[0]["new"] == 0 and rows[1]["new"] == INBOX_FILES
    assert rows[1]["seen"] == INBOX_FILES and rows[1]["seconds"] > 0
