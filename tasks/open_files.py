"""Which files some process still holds open for writing (Linux, via /proc/<pid>/fd).

A file being written is not ingested half-written. Age since the last change catches most writers;
this catches the ones that pause longer than that while keeping the file open (a slow download, a
writer that writes in parts). One pass over /proc costs a readlink per open descriptor on the machine
(a few ms for thousands), so callers ask only about a few fresh files, all at once.

Limits: only processes this user may inspect are visible (root sees all); a writer on another machine
(network share) or one that closes the file between parts is invisible here, which is why writers
should still write under a temporary name (`.part`, `.tmp`) and rename, and why the age check stays.
On systems without /proc nothing is reported open.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

PROC = "/proc"
# The access mode bits of the `flags:` line in /proc/<pid>/fdinfo/<fd> (octal, as in open(2)).
O_ACCMODE, O_WRONLY, O_RDWR = 0o3, 0o1, 0o2


def _opened_for_writing(pid: str, fd: str) -> bool:
    try:
        with open(f"{PROC}/{pid}/fdinfo/{fd}", encoding="ascii") as info:
            for line in info:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & O_ACCMODE in (O_WRONLY, O_RDWR)
    except (OSError, ValueError):
        pass  # the descriptor closed or the process ended meanwhile: not held any more
    return False


def held_for_writing(paths: Iterable[str]) -> set[str]:
    """The subset of `paths` (absolute, resolved) that some visible process has open for writing."""
    wanted = set(paths)
    if not wanted or not os.path.isdir(PROC):
        return set()
    held: set[str] = set()
    try:
        pids = [name for name in os.listdir(PROC) if name.isdigit()]
    except OSError:
        return held
    for pid in pids:
        try:
            fds = os.listdir(f"{PROC}/{pid}/fd")
        except OSError:  # not ours to inspect, or gone
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{PROC}/{pid}/fd/{fd}")
            except OSError:
                continue
            if target in wanted and target not in held and _opened_for_writing(pid, fd):
                held.add(target)
    return held
