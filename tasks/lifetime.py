"""Child processes that do not outlive their parent."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """In a child process: have the kernel send `signum` when `parent` dies, even by kill -9
    (Linux prctl; elsewhere the caller's own checks of os.getppid() are all there is). Exits at
    once if the parent died before this took effect."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    except (OSError, AttributeError):  # not Linux
        pass
    if os.getppid() != parent:
        os._exit(1)
