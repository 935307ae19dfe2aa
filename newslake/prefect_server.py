"""Prefect's temporary API server for one `newslake ingest` process, started early.

With no API URL configured, Prefect starts a temporary server itself ("ephemeral mode"), but only
once the flow first calls the API, and its client process first imports the whole server
application (about 3 s on a 2-core machine) just to launch it. Here the CLI reserves the server's
address before Prefect is imported (PREFECT_API_URL, so every Prefect client in the process uses
it) and launches the same server as a plain subprocess as soon as it knows there is work, so the
server boots while the CLI imports the flow and the NER workers load their model. It runs the
command and environment of prefect.server.api.server.SubprocessASGIServer, and stops when the
process exits, after Prefect has flushed its logs and events.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

STARTUP_TIMEOUT_SECONDS = 60.0
PORT_IN_USE_EXIT_CODE = 3  # uvicorn's exit code when it cannot bind
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


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
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's atexit hook is all there is
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class TemporaryServer:
    """A Prefect API server subprocess on a port of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        import prefect  # its location only; the server application is imported by the subprocess

        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1"},
            preexec_fn=functools.partial(_detach_from_terminal_signals, os.getpid()),
        )
        atexit.register(self.stop)  # after Prefect's own exit hooks have flushed logs and events

    def wait_until_healthy(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited with code {self.process.returncode} "
                                   f"(port {self.port} {'taken' if self.process.returncode == PORT_IN_USE_EXIT_CODE else ''})")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as response:
                    if response.status == 200:
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


def reserve_temporary_server() -> TemporaryServer | None:
    """A server address for this process's Prefect clients, set before Prefect is imported; None
    when Prefect is configured to use a server already (PREFECT_API_URL) or is already imported
    (a program or test embedding the CLI, with settings of its own)."""
    if "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return None
    server = TemporaryServer()
    os.environ["PREFECT_API_URL"] = server.api_url
    return server
