"""Process-wide settings of newslake's own processes: those that must be in place before Prefect is
imported, and the one its CLI and watcher run their flows under."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Container objects allocated between two collections of the youngest generation (Python's default:
# 700). Importing Prefect makes hundreds of thousands of them, and at the default a run's collector
# walked them over a thousand times: 0.8 s of the main process's CPU at 900 articles, 0.4 s of the
# Prefect server's start-up. At 50,000 a run collects about 15 times (0.15 s); what that leaves
# uncollected is only cyclic garbage, and only until the next collection.
GC_YOUNG_GENERATION = 50_000


def use_project_prefect_home(project_dir: Path | None = None) -> None:
    """Keep Prefect's run history in ./.prefect, so `make ui` started here shows every run made
    here, unless the user points Prefect elsewhere (PREFECT_HOME or a server's PREFECT_API_URL)."""
    if "PREFECT_HOME" not in os.environ and "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_HOME"] = str((project_dir or Path.cwd()) / ".prefect")
    # The machine is offline: telemetry would only log failures. The server's setting turns off what
    # a server sends; DO_NOT_TRACK what the client would, and the notice it prints in a terminal.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def relax_cyclic_gc() -> None:
    """Collect the youngest generation every GC_YOUNG_GENERATION allocations instead of 700, first
    thing in a process, before its big imports."""
    gc.set_threshold(GC_YOUNG_GENERATION, 20, 20)


@contextmanager
def without_flow_heartbeats() -> Iterator[None]:
    """Flow runs started inside run without Prefect's heartbeats. They exist to spot crashed runs of
    deployments; a run started in this process needs none, and stopping their thread adds up to a
    second to the end of every run."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
