"""How far a run has got, for whoever is watching: a Prefect progress artifact in the UI for runs of
several batches, and in-process listeners (the CLI's progress bar) for any run.

The flow only reports numbers; how they are shown is the listener's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

# (files done, files to do) after discovery and after each batch.
ProgressListener = Callable[[int, int], None]

_listeners: list[ProgressListener] = []


@contextmanager
def listening(listener: ProgressListener) -> Iterator[None]:
    """Call `listener` with every progress report made in this process inside the block."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class RunProgress:
    """Progress of one run over `total` files; publishes a progress artifact when `publish` is set."""

    def __init__(self, total: int, *, publish: bool, key: str = "ingest-progress") -> None:
        self.total = total
        self.artifact_id: UUID | None = None
        if publish:
            self.artifact_id = create_progress_artifact(
                progress=0.0, key=key, description=f"Files processed out of {total}")
        self._notify(0)

    def advance_to(self, done: int) -> None:
        if self.artifact_id is not None:
            update_progress_artifact(self.artifact_id, progress=100.0 * done / self.total)
        self._notify(done)

    def _notify(self, done: int) -> None:
        for listener in list(_listeners):
            listener(done, self.total)
