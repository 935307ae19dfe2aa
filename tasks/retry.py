"""Which failures are worth retrying: transient ones (a locked catalog, a full or busy disk),
never terminal ones (a bug, a bad file). Used as Prefect's `retry_condition_fn`."""

from __future__ import annotations

import errno

import duckdb

TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.ENOSPC, errno.EIO, errno.EINTR, errno.ETIMEDOUT}
TRANSIENT_DB_MESSAGES = ("database is locked", "database is busy", "conflict", "could not set lock")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in TRANSIENT_ERRNOS
    if isinstance(exc, duckdb.Error):
        message = str(exc).lower()
        return any(fragment in message for fragment in TRANSIENT_DB_MESSAGES)
    return False


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect retry condition: retry the task only when it failed for a transient reason."""
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_transient(exc)
