"""Discover: which files in the inbox are new or changed since the lake last saw them.

`discover` is the one place that decides what a run has to do, for the CLI's check that there is
nothing new and for the flow alike: one directory walk with a stat per entry, then one query of
what the lake's `files` table holds for the paths found (a semi-join: the cost and the memory follow
the inbox, not the lake's history). Files whose (path, size, mtime) the lake already holds are
skipped without being opened. Nothing outside the inbox is ever followed: symlinks are resolved and
checked here, and again when the file is opened (tasks.read).

Plain functions with no Prefect import: the CLI's no-op run uses them without paying for Prefect.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

import sql
from tasks.lake import lake_errors
from tasks.open_files import held_for_writing
from tasks.records import FileRef

if TYPE_CHECKING:
    import duckdb

# Files a writer is still producing or an editor keeps beside the real one.
TEMP_SUFFIXES = (".part", ".tmp", ".temp", ".crdownload", ".swp", ".swx", ".download", ".partial")
# Files changed this recently are checked for a process still writing them (tasks.open_files);
# older ones are not, which keeps the /proc pass off the path of a scan over a settled inbox.
FRESH_SECONDS = 60.0


@dataclass(frozen=True)
class FileToIngest:
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
    candidates: list[FileToIngest] = field(default_factory=list)
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


@dataclass(frozen=True)
class InboxFile:
    """An entry of the inbox as the walk found it."""

    ref: FileRef  # path relative to the inbox as the lake stores it, size and mtime of the content
    rejection: str | None  # why it cannot be read, if so
    changed_ns: int  # last change of mtime or ctime: a copy that keeps the mtime (cp -p) still moves ctime
    os_path: str  # where it is, for the check that no process holds it open for writing


def list_inbox(inbox: Path) -> list[InboxFile]:
    """Every entry under `inbox` (one walk, one stat each); entries that vanish meanwhile are left out."""
    root = os.path.realpath(inbox)
    found = []
    for entry in walk_files(root):
        classified = _classify(root, entry)
        if classified is None:
            continue
        file_stat, rejection = classified
        rel, readable_name = relative_path(entry, root)
        if not readable_name:
            rejection = rejection or "file name is not valid UTF-8 (rename it to ingest it)"
        found.append(InboxFile(FileRef(path=rel, size=file_stat.st_size, mtime_ns=file_stat.st_mtime_ns), rejection,
                               max(file_stat.st_mtime_ns, file_stat.st_ctime_ns), entry.path))
    return found


def new_or_changed(files: list[InboxFile], known: set[tuple[str, int, int]], min_file_age: float = 0.0) -> Scan:
    """The `files` that the lake has not seen as they are now and that are complete.

    `known` holds (path, size, mtime_ns) of the files already recorded. A file changed less than
    `min_file_age` seconds ago, or held open for writing by a process we can see, is still being
    written: it is left for a later run, unrecorded.
    """
    scan = Scan()
    now_ns = time.time_ns()
    fresh: dict[str, FileToIngest] = {}
    for file in files:
        if (file.ref.path, file.ref.size, file.ref.mtime_ns) in known:
            scan.unchanged += 1
            continue
        age = (now_ns - file.changed_ns) / 1e9
        if file.rejection is None and age < min_file_age:
            scan.settling += 1
            continue
        candidate = FileToIngest(file.ref, file.rejection)
        if file.rejection is None and age < FRESH_SECONDS:
            fresh[file.os_path] = candidate
        scan.candidates.append(candidate)
    held = {fresh[path].ref.path for path in held_for_writing(fresh)}
    if held:
        scan.candidates = [c for c in scan.candidates if c.ref.path not in held]
        scan.settling += len(held)
    return scan


def scan_inbox(inbox: Path, known: set[tuple[str, int, int]], min_file_age: float = 0.0) -> Scan:
    """Every file under `inbox` that is not in `known` as it is now and that is complete (see
    new_or_changed); paths are relative to the inbox with forward slashes."""
    return new_or_changed(list_inbox(inbox), known, min_file_age)


@lake_errors()
def known_files(con: duckdb.DuckDBPyConnection, paths: list[str]) -> KnownFiles:
    """What the lake holds of the files at `paths` (one semi-join on `files`)."""
    con.register("inbox_paths", pa.table({"path": pa.array(paths, pa.string())}))
    try:
        rows = con.execute(sql.load("known_files_in_inbox")).fetchall()
    finally:
        con.unregister("inbox_paths")
    known = KnownFiles()
    for path, size, mtime_ns, sha256 in rows:
        known.stats.add((path, size, mtime_ns))
        if sha256 is not None:
            known.contents.add((path, sha256))
    return known


@dataclass
class Discovery:
    """What a run has to do: the scan of the inbox, and what the lake knew of its files."""

    scan: Scan
    known: KnownFiles

    @property
    def nothing_new(self) -> bool:
        return not self.scan.candidates and not self.scan.settling


def discover(con: duckdb.DuckDBPyConnection | None, inbox: Path, min_file_age: float = 0.0) -> Discovery:
    """What is new or changed in `inbox` against the lake on `con` (None: a lake not made yet, which
    knows no file): one walk of the inbox and one query of the lake."""
    files = list_inbox(inbox)
    known = known_files(con, [file.ref.path for file in files]) if con is not None else KnownFiles()
    return Discovery(new_or_changed(files, known.stats, min_file_age), known)
