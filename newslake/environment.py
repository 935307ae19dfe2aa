"""Process-wide settings that must be in place before Prefect is imported."""

from __future__ import annotations

import os
from pathlib import Path


def use_project_prefect_home(project_dir: Path | None = None) -> None:
    """Keep Prefect's run history in ./.prefect, so `make ui` started here shows every run made
    here, unless the user points Prefect elsewhere (PREFECT_HOME or a server's PREFECT_API_URL)."""
    if "PREFECT_HOME" not in os.environ and "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_HOME"] = str((project_dir or Path.cwd()) / ".prefect")
    # The machine is offline: telemetry would only log failures.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
