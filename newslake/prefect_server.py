"""Prefect's temporary API server for one `newslake ingest` process, started early.

With no API URL configured, Prefect starts a temporary server itself ("ephemeral mode"), but only
once the flow first calls the API, and its client process first imports the whole server application
(about 3 s on a 2-core machine) just to launch it. Here the CLI reserves the server's address before
Prefect is imported (PREFECT_API_URL, so every Prefect client in the process uses it) and launches
the same server as a plain subprocess first thing, so the server boots while the CLI scans the
inbox, imports the flow and the NER workers load their model (when there turns out to be nothing to
do, the server is killed unused). It runs the application and environment of
prefect.server.api.server.SubprocessASGIServer under uvicorn (see `serve`), and stops when the
process exits, after Prefect has flushed its logs and events.
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from newslake.environment import relax_cyclic_gc
from tasks.lifetime import die_with_parent

STARTUP_TIMEOUT_SECONDS = 60.0
PORT_IN_USE_EXIT_CODE = 3  # uvicorn's exit code when it cannot bind
# Every Prefect server newslake starts (per run, `make ui`, the tests' harness): its task run recorder
# writes the task runs' states in batches, at least once a second, instead of one transaction per
# event (Prefect's default): per-event transactions were most of the server's CPU for each run. Task
# runs reach the UI up to a second later; a server that stops writes what it holds first.
TASK_RUN_RECORDER_BATCHING = {"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
                              "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _detach_from_terminal_signals(parent: int) -> None:
    """In the server's child process, before exec: a process group of its own, so a terminal's Ctrl-C
    (sent to the foreground group) reaches newslake alone, which then reports the interrupted run and
    stops the server itself; without this the server dies first and Prefect spends minutes at exit
    retrying to flush its events. SIGTERM when the parent dies, even by kill -9 (Linux prctl)."""
    os.setpgid(0, 0)
    die_with_parent(parent, signal.SIGTERM)  # elsewhere than Linux, the parent's atexit hook stops it


class TemporaryServer:
    """A Prefect API server subprocess on a port of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        database = restore_fresh_database()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newslake.prefect_server", "serve", str(self.port)],
            # Automations (triggers, actions) are not served by a server living for one run, nor
            # are block types, which a run of newslake never uses: registering them at start-up
            # costs a quarter of a second of CPU (a long-lived `make ui` server registers them).
            env={**TASK_RUN_RECORDER_BATCHING, **os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1", "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
                 "PREFECT_API_BLOCKS_REGISTER_ON_START": "false", "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"},
            preexec_fn=functools.partial(_detach_from_terminal_signals, os.getpid()),
        )
        atexit.register(self.stop)  # after Prefect's own exit hooks have flushed logs and events
        self._keep_fresh_database = database is not None and not database.exists()

    def abandon(self) -> None:
        """Stop a server that was never used (nothing to do after all): no grace needed."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def wait_until_healthy(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited with code {self.process.returncode} "
                                   f"(port {self.port} {'taken' if self.process.returncode == PORT_IN_USE_EXIT_CODE else ''})")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as response:
                    if response.status == 200:
                        if self._keep_fresh_database:
                            keep_fresh_database()
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


# A new PREFECT_HOME starts with Prefect replaying every database migration: 4-8 s on this machine,
# the longest part of a first run. The database right after migration is the same for every home
# of one Prefect version, so the first server to create one leaves a copy in the user's cache, and
# later new homes start from that copy (Prefect checks it is at the head revision, as always).
def _default_database() -> Path | None:
    """The server's SQLite file when Prefect uses its default database, else None."""
    if any(os.environ.get(name) for name in ("PREFECT_API_DATABASE_CONNECTION_URL",
                                              "PREFECT_SERVER_DATABASE_CONNECTION_URL")):
        return None
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    return home / "prefect.db"


def fresh_database_copy() -> Path:
    """Where the migrated database with nothing recorded is cached (for this Prefect version)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newslake"
    return cache / f"prefect-{importlib.metadata.version('prefect')}-fresh.db"


def restore_fresh_database() -> Path | None:
    """The server's database file, first copied from the cached fresh one if it does not exist."""
    database, fresh = _default_database(), fresh_database_copy()
    if database is not None and not database.exists() and fresh.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fresh, database)
    return database


def keep_fresh_database() -> None:
    """Copy the just-migrated database (no run recorded yet) to the cache, atomically."""
    database, fresh = _default_database(), fresh_database_copy()
    if database is None or fresh.exists():
        return
    fresh.parent.mkdir(parents=True, exist_ok=True)
    partial = fresh.with_suffix(f".{os.getpid()}.part")
    with sqlite3.connect(database) as source, sqlite3.connect(partial) as copy:
        source.backup(copy)
    os.replace(partial, fresh)


def serve(port: int) -> None:
    """The server process TemporaryServer starts: Prefect's application under uvicorn, as Prefect's
    ephemeral mode runs it (`python -m uvicorn --factory prefect.server.api.server:create_app`),
    with the cyclic GC relaxed before the import (newslake.environment: 0.4 s less CPU to start)."""
    relax_cyclic_gc()
    import uvicorn

    uvicorn.run("prefect.server.api.server:create_app", factory=True, host="127.0.0.1", port=port,
                log_level="error", lifespan="on")


def prepare_fresh_database() -> None:
    """Create the cached fresh database now (`make install` runs this), so that not even the first
    `newslake ingest` on this machine waits for Prefect's migrations: a server is started once on
    a throwaway PREFECT_HOME, and stopped as soon as it answers."""
    if fresh_database_copy().exists():
        return
    with tempfile.TemporaryDirectory(prefix="newslake-prefect-") as home:
        os.environ["PREFECT_HOME"] = home
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline
        if _default_database() is None:  # Prefect is configured for another database
            return
        server = TemporaryServer()
        server.start()
        try:
            server.wait_until_healthy()  # keeps the fresh copy
        finally:
            server.stop()


def start_temporary_server() -> TemporaryServer | None:
    """The server of a command that runs flows (ingest, watch, maintain), started before Prefect is
    imported: its address is set for this process's Prefect clients, and it boots while the command
    imports its flow (the caller waits for it before the first run). None when Prefect is configured
    to use a server already (PREFECT_API_URL) or is already imported (a program or test embedding the
    CLI, with settings of its own)."""
    if "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return None
    server = TemporaryServer()
    os.environ["PREFECT_API_URL"] = server.api_url
    server.start()
    return server


def start_ui_server(host: str, port: str) -> None:
    """`make ui`: Prefect's own long-lived server and UI (`prefect server start`), with the recorder
    batching above unless the environment says otherwise. No prompt to point a Prefect profile at
    it: `make deploy` and `make worker` pass its address themselves. The UI's pages call the API at
    the host and port given (Prefect's default is port 4200 whatever the port)."""
    environment = {**TASK_RUN_RECORDER_BATCHING, "PREFECT_SERVER_API_HOST": host, "PREFECT_SERVER_API_PORT": port,
                   **os.environ}
    prefect = str(Path(sys.executable).with_name("prefect"))
    os.execve(prefect, [prefect, "--no-prompt", "server", "start", "--host", host, "--port", port], environment)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
    elif sys.argv[1:] == ["prepare"]:
        prepare_fresh_database()
    elif sys.argv[1:2] == ["ui"] and len(sys.argv) == 4:
        start_ui_server(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m newslake.prefect_server prepare | serve PORT | ui HOST PORT")
