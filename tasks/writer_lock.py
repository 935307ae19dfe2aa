"""One writer at a time per lake: an advisory `flock` on `<lake>/.writer.lock`.

A watcher, a scheduled run and a manual `newslake ingest` all take this lock for the whole of a run
(discovery to the last commit), so two runs never decide from the same snapshot that the same file is
new. The lock belongs to the open file description, so the kernel releases it when the holder exits or
crashes: a stale lock file is harmless. DuckLake's own commit conflict detection stays the last line
of defence, and the deployment's concurrency limit keeps scheduled runs from even queueing up.

Limits: `flock` is advisory (only newslake honours it) and unreliable on some network filesystems;
a lake shared between machines needs the PostgreSQL catalog and a lock of its own.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_TIMEOUT_SECONDS = 600.0  # a whole cold run of a large inbox fits in it

LOCK_FILE = ".writer.lock"
POLL_SECONDS = 0.1


class WriterLockTimeout(Exception):
    """Another process kept the lake's writer lock for longer than we were willing to wait."""


def _holder(lock_path: Path) -> str:
    try:
        text = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        return "another process"
    return f"process {text}" if text else "another process"


@contextmanager
def writer_lock(lake_dir: Path | str, timeout: float,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lake's writer lock for the duration of the block.

    Waits up to `timeout` seconds for the current holder, calling `on_wait` once with a description of
    it if the lock is busy, then raises WriterLockTimeout.
    """
    lake_dir = Path(lake_dir)
    lake_dir.mkdir(parents=True, exist_ok=True)
    lock_path = lake_dir / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait(_holder(lock_path))
                waited = True
                if time.monotonic() >= deadline:
                    raise WriterLockTimeout(
                        f"the lake at {lake_dir} is being written by {_holder(lock_path)}; "
                        f"gave up after waiting {timeout:g}s") from None
                time.sleep(POLL_SECONDS)
        # Who holds it, for the message another writer shows while it waits.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
