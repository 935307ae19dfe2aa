"""`newslake watch`: keep the lake up to date with the inbox, seconds after files land.

The shape Prefect's maintainers recommend for file arrival: a scan is the source of truth and events
only cut latency. The watcher runs the ingest flow (a Prefect flow run each time) over the whole inbox:
once at start, again whenever file events (watchfiles) name files that have settled, and every
`rescan_seconds` whatever happened, to catch anything the events missed. Discovery skips unchanged
files by (path, size, mtime), so a run over the folder costs little more than the files that arrived,
and a burst of thousands of files becomes a few runs of full batches, not a run per file.

A file is ready once nothing has changed it for `settle_seconds` and no process holds it open for
writing (tasks.open_files); the flow applies the same rule in discovery, so a file the watcher did not
wait for is still never ingested half-written.

Everything happens in this one long-lived process: Prefect's temporary API server is started once and
the NER pool (tasks.ner) loads spaCy's model once and is handed to every run, so each later run pays only
its own work; the pool replaces a worker that dies and logs it. No Prefect server is needed; with
PREFECT_API_URL set the runs go to that server instead.

Stopping: the first SIGINT/SIGTERM stops new runs; a run in flight gets `grace_seconds` to finish and is
then interrupted, which rolls back its open batch (each batch is one DuckLake transaction). A second
signal interrupts at once.
"""

from __future__ import annotations

import _thread
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change, watch

from tasks.discover import is_ignored
from tasks.open_files import held_for_writing

if TYPE_CHECKING:
    from tasks.ner import NerPool

logger = logging.getLogger("newslake.watch")

TICK_MS = 100  # how often pending files are re-checked when no event arrives
QUIET_MS = 50  # events are handed over once none arrived for this long...
MAX_EVENT_GROUP_MS = 1_000  # ...or after this long in a steady stream (a big copy)
RETRY_AFTER_FAILURE_SECONDS = 5.0


@dataclass(frozen=True)
class WatchSettings:
    seeds: Path
    lake: Path | str  # the lake, or its data folder or s3:// URL with a catalog
    catalog: str | None = None  # a PostgreSQL catalog shared with other writers (libpq URL)
    settle_seconds: float = 0.5  # a file unchanged this long (and not held open) is complete
    rescan_seconds: float = 180.0  # full run at this interval, events or not
    batch_size: int = 400
    grace_seconds: float = 3.0  # on stop, how long a run in flight may take to finish


def _changed_at(path: str) -> float | None:
    """Seconds since the epoch of the file's last change (mtime or ctime), None if it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return max(st.st_mtime, st.st_ctime)


def _watch_filter(change: Change, path: str) -> bool:
    return change is not Change.deleted and not is_ignored(os.path.basename(path))


class PendingFiles:
    """Files named by events that have not been handed to a run yet."""

    def __init__(self, settle_seconds: float) -> None:
        self.settle_seconds = settle_seconds
        self.paths: set[str] = set()

    def add(self, paths: set[str]) -> None:
        self.paths |= paths

    def take_ready(self, now: float) -> set[str]:
        """Remove and return the pending files that are complete; vanished files are dropped."""
        settled = set()
        for path in list(self.paths):
            changed_at = _changed_at(path)
            if changed_at is None:
                self.paths.discard(path)
            elif now - changed_at >= self.settle_seconds:
                settled.add(path)
        ready = settled - held_for_writing(settled)
        self.paths -= ready
        return ready


class Watcher:
    """Runs `run_ingest(settings)` whenever the inbox has settled new files, until stopped."""

    def __init__(self, settings: WatchSettings, run_ingest: Callable[[WatchSettings], object]) -> None:
        self.settings = settings
        self.run_ingest = run_ingest
        self.stop_event = threading.Event()
        self.pending = PendingFiles(settings.settle_seconds)
        self._run_in_flight = False
        self.runs = 0

    # -- stopping -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the watcher to stop after the run in flight (if any); safe from any thread."""
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM stop the watcher (main thread only)."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if self.stop_event.is_set():
            raise KeyboardInterrupt  # second signal, or the grace period ran out
        self.stop_event.set()
        if self._run_in_flight:
            logger.info("stopping: letting the run in flight finish (up to %gs)", self.settings.grace_seconds)
            timer = threading.Timer(self.settings.grace_seconds, self._interrupt_if_still_running)
            timer.daemon = True
            timer.start()

    def _interrupt_if_still_running(self) -> None:
        if self._run_in_flight:
            _thread.interrupt_main(signal.SIGINT)

    # -- running --------------------------------------------------------------------------------

    def _run(self, reason: str) -> bool:
        """One ingest run over the inbox; False if it failed (the files stay for the next run)."""
        logger.info("ingest run: %s", reason)
        self._run_in_flight = True
        try:
            self.run_ingest(self.settings)
        except Exception:
            logger.exception("ingest run failed; retrying in %gs", RETRY_AFTER_FAILURE_SECONDS)
            return False
        finally:
            self._run_in_flight = False
        self.runs += 1
        return True

    def serve(self) -> None:
        """Initial run, then event-driven and periodic runs until stop() or a signal."""
        settings = self.settings
        next_rescan = time.monotonic()
        retry_at = 0.0
        changes = watch(settings.seeds, watch_filter=_watch_filter, debounce=MAX_EVENT_GROUP_MS, step=QUIET_MS,
                        stop_event=self.stop_event, rust_timeout=TICK_MS, yield_on_timeout=True,
                        raise_interrupt=False)
        try:
            for batch in changes:
                self.pending.add({path for _, path in batch})
                now = time.monotonic()
                if now < retry_at:
                    continue
                ready = self.pending.take_ready(time.time())
                if self.stop_event.is_set() or not (ready or now >= next_rescan):
                    self.pending.add(ready)
                    continue
                reason = f"{len(ready)} files arrived" if ready else "full rescan"
                if self._run(reason):
                    next_rescan = time.monotonic() + settings.rescan_seconds
                else:
                    self.pending.add(ready)
                    retry_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS
        finally:
            changes.close()
        logger.info("stopped after %d runs", self.runs)


def run_ingest_flow(ner: NerPool, settings: WatchSettings) -> object:
    """One ingest flow run over the whole inbox, for files that have settled, with the watcher's NER pool."""
    from flows.ingest import IngestSettings, ingest

    return ingest(IngestSettings(seeds=settings.seeds, lake=settings.lake, catalog=settings.catalog,
                                 batch_size=settings.batch_size, min_file_age_seconds=settings.settle_seconds), ner=ner)


def watch_inbox(settings: WatchSettings, ner: NerPool, *, handle_signals: bool = True,
                on_ready: Callable[[Watcher], None] | None = None) -> Watcher:
    """Watch the inbox until stopped, running every ingest with `ner`: the entry point behind
    `newslake watch`.

    Flow run heartbeats are off here: they exist to spot crashed runs of deployments, and the
    engine's heartbeat thread adds up to a second to the end of every run, which is most of the
    latency budget. `on_ready` is called with the watcher before it starts (to keep a handle on it).
    """
    from newslake.environment import without_flow_heartbeats

    watcher = Watcher(settings, partial(run_ingest_flow, ner))
    if handle_signals:
        watcher.install_signal_handlers()
    if on_ready is not None:
        on_ready(watcher)
    with without_flow_heartbeats():
        try:
            watcher.serve()
        except KeyboardInterrupt:
            logger.info("interrupted; the batch in flight was rolled back")
    return watcher
