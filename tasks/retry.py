"""Which failures are worth retrying: transient ones (a locked catalog, a full or busy disk),
never terminal ones (a bug, a bad file). Used as Prefect's `retry_condition_fn`.

Decided by the error's type only: DuckDB's errors are classed where the lake is called
(tasks.lake.lake_errors), the operating system's by errno.
"""

from __future__ import annotations

import errno

from tasks.lake import TransientLakeError

TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.ENOSPC, errno.EIO, errno.EINTR, errno.ETIMEDOUT}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in TRANSIENT_ERRNOS
    return isinstance(exc, TransientLakeError)


# Errors that say the code is wrong: running it again gives the same error.
BUG_TYPES = (TypeError, ValueError, AttributeError, KeyError, IndexError, NameError, AssertionError,
             NotImplementedError)
BUG_TYPE_NAMES = frozenset(t.__name__ for t in BUG_TYPES)


def is_bug(exc: BaseException) -> bool:
    """A programming error, here or in a worker process (which reports its error's type name)."""
    return isinstance(exc, BUG_TYPES) or getattr(exc, "error_type", None) in BUG_TYPE_NAMES


def _exception_of(state) -> BaseException | None:
    exc = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return exc if isinstance(exc, BaseException) else None


def retry_if_transient(task, task_run, state) -> bool:
    """Prefect retry condition: retry the task only when it failed for a transient reason."""
    exc = _exception_of(state)
    return exc is not None and is_transient(exc)


def retry_unless_bug(task, task_run, state) -> bool:
    """Prefect retry condition for CPU work that does no I/O of ours (NER): retry failures of the
    machine (memory, a worker process that died), never a bug."""
    exc = _exception_of(state)
    return exc is not None and not isinstance(exc, (KeyboardInterrupt, SystemExit)) and not is_bug(exc)
