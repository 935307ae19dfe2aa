"""Discover: which files in the inbox are new or changed since the lake last saw them.

A scan costs one directory walk and a stat per entry; files whose (path, size, mtime) the lake
already holds are skipped without being opened. Nothing outside the inbox is ever followed:
symlinks are resolved and checked here, and again when the file is opened (tasks.read).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tasks.open_files import held_for_writing
from tasks.records import FileRef

# Files a writer is still producing or an editor keeps beside the real one.
TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".crdownload", ".swp", ".swx", ".download", ".partial")
# Files changed this recently are checked for a process still writing them (tasks.open_files);
# older ones are not, which keeps the /proc pass off the path of a scan over a settled inbox.
FRESH_SECONDS = 60.0


@dataclass(frozen=True)
class InboxEntry:
    """A file to process, or an entry that is rejected before it is ever opened."""

    ref: FileRef
    rejection: str | None = None


@dataclass
class KnownFiles:
    """What the lake already holds: (path, size, mtime_ns) to skip without opening, and
    (path, sha256) to recognise a touched but unchanged file after hashing it."""

    stats: set[tuple[str, int, int]] = field(default_factory=set)
    contents: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Scan:
    candidates: list[InboxEntry] = field(default_factory=list)
    unchanged: int = 0  # entries skipped because the lake already has them as they are
    settling: int = 0  # new or changed files still being written: left, unrecorded, for the next run

    @property
    def seen(self) -> int:
        return len(self.candidates) + self.unchanged


def is_ignored(name: str) -> bool:
    """Hidden files, editor backups and partial downloads are not articles."""
    return name.startswith((".", "~")) or name.endswith("~") or name.lower().endswith(TEMP_SUFFIXES)


def is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []  # a folder removed or unreadable mid-scan holds nothing we can process


def walk_files(folder: str) -> Iterable[os.DirEntry]:
    """Every entry below `folder` that is not a folder, depth first in name order. A stack, not
    recursion: no nesting is too deep for it."""
    stack = [iter(_entries(folder))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif is_ignored(entry.name):
            continue
        elif entry.is_dir(follow_symlinks=False):
            stack.append(iter(_entries(entry.path)))
        else:
            yield entry


def _classify(root: str, entry: os.DirEntry) -> tuple[os.stat_result, str | None] | None:
    """The stat that identifies the entry's content, and a rejection reason if it is not a file
    we may read. None when the entry vanished during the scan."""
    try:
        link_stat = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(link_stat.st_mode):
        try:
            target = os.path.realpath(entry.path, strict=True)
        except FileNotFoundError:
            return link_stat, "broken symlink"
        except OSError:
            return link_stat, "symlink loop"
        if not is_inside(target, root):
            return link_stat, "outside inbox (symlink to a file outside the watched folder)"
        target_stat = os.stat(target)
        if stat.S_ISDIR(target_stat.st_mode):
            # Its files are inside the inbox and are discovered by the walk itself.
            return link_stat, "symlink to a folder (not followed)"
        if not stat.S_ISREG(target_stat.st_mode):
            return link_stat, f"not a regular file ({_kind(target_stat.st_mode)})"
        return target_stat, None
    if not stat.S_ISREG(link_stat.st_mode):
        return link_stat, f"not a regular file ({_kind(link_stat.st_mode)})"
    return link_stat, None


def path_as_text(path: str) -> tuple[str, bool]:
    """The path as it can be stored (text columns hold UTF-8 only), and whether it is the real name.
    A name that is not UTF-8 comes from the OS with surrogate escapes; it is stored with its odd
    bytes written as \\xNN, the same way every scan, so it is recorded once and then skipped."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"), False
    return path, True


def relative_path(entry: os.DirEntry, root: str) -> tuple[str, bool]:
    """The entry's path relative to `root` as the lake stores it (see path_as_text)."""
    return path_as_text(Path(os.path.relpath(entry.path, root)).as_posix())


def scan_inbox(inbox: Path, known: set[tuple[str, int, int]], min_file_age: float = 0.0) -> Scan:
    """Every file under `inbox` that the lake has not seen as it is now and that is complete.

    `known` holds (path, size, mtime_ns) of every file already recorded; paths are relative to the
    inbox with forward slashes. A file changed less than `min_file_age` seconds ago, or held open for
    writing by a process we can see, is still being written: it is left for a later run, unrecorded.
    """
    root = os.path.realpath(inbox)
    scan = Scan()
    now_ns = time.time_ns()
    fresh: dict[str, InboxEntry] = {}
    for entry in walk_files(root):
        classified = _classify(root, entry)
        if classified is None:
            continue
        file_stat, rejection = classified
        rel, readable_name = relative_path(entry, root)
        if not readable_name:
            rejection = rejection or "file name is not valid UTF-8 (rename it to ingest it)"
        ref = FileRef(path=rel, size=file_stat.st_size, mtime_ns=file_stat.st_mtime_ns)
        if (ref.path, ref.size, ref.mtime_ns) in known:
            scan.unchanged += 1
            continue
        # ctime too: a copy that keeps the original mtime (cp -p) still moves ctime while writing.
        age = (now_ns - max(file_stat.st_mtime_ns, file_stat.st_ctime_ns)) / 1e9
        if rejection is None and age < min_file_age:
            scan.settling += 1
            continue
        candidate = InboxEntry(ref, rejection)
        if rejection is None and age < FRESH_SECONDS:
            fresh[entry.path] = candidate
        scan.candidates.append(candidate)
    held = {fresh[path].ref.path for path in held_for_writing(fresh)}
    if held:
        scan.candidates = [c for c in scan.candidates if c.ref.path not in held]
        scan.settling += len(held)
    return scan
