"""Read, decode and parse: a batch of discovered files becomes Article records or rejections.

Opening is where safety is enforced: the path is resolved again and checked to lie inside the
inbox (a symlink can change after discovery), it is opened without following a final symlink and
without blocking (a named pipe must never hang the run), and a file over the size limit is never
read. A file that fails in any way is rejected with a reason; the batch goes on.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.decode import decode_bytes
from tasks.discover import InboxEntry, is_inside
from tasks.parse import parse_document
from tasks.records import Article, FileRef, Rejected

DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class ReadResult:
    """One file after reading: its content hash and either an article or a rejection reason.
    `ref` carries the size and mtime of the bytes actually read."""

    ref: FileRef
    sha256: str | None
    article: Article | None = None
    rejection: str | None = None


def human_size(size: int) -> str:
    """A byte count as people read it: "63 MB", "20.4 MB", "64 KB", "900 bytes"."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            number = f"{value:.0f}" if value >= 100 else f"{value:.1f}".removesuffix(".0")
            return f"{number} {unit}"
    return f"{size} bytes"


def _open_below(root: str, relative: str) -> int:
    """Open `relative` (a resolved path, no symlinks in it) below `root` one component at a time,
    following no symlink: a folder swapped for a symlink after the check cannot lead outside."""
    *folders, name = relative.split(os.sep)
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for folder in folders:
            inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = inner
        # Non-blocking: a named pipe swapped in must never hang the run.
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def read_inside(root: Path, ref: FileRef, max_bytes: int) -> tuple[bytes, FileRef]:
    """The bytes of `ref` and the stat they were read at. Raises Rejected."""
    real_root = os.path.realpath(root)
    try:
        target = os.path.realpath(os.path.join(real_root, ref.path), strict=True)
    except FileNotFoundError:
        raise Rejected("disappeared before it could be read") from None
    except OSError:
        raise Rejected("symlink loop") from None
    if not is_inside(target, real_root):
        raise Rejected("outside inbox (symlink to a file outside the watched folder)")
    try:
        fd = _open_below(real_root, os.path.relpath(target, real_root))
    except FileNotFoundError:
        raise Rejected("disappeared before it could be read") from None
    except PermissionError:
        raise Rejected("unreadable (permission denied)") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a folder or the file became a symlink since the check
            raise Rejected("changed while being read") from None
        raise Rejected(f"unreadable ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise Rejected("not a regular file")
        if before.st_size > max_bytes:
            raise Rejected(f"too large ({human_size(before.st_size)} > {human_size(max_bytes)} limit)")
        data = handle.read(max_bytes + 1)
        after = os.fstat(fd)
    if len(data) > max_bytes:
        raise Rejected(f"too large (over the {human_size(max_bytes)} limit)")
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        raise Rejected("changed while being read")
    return data, FileRef(ref.path, after.st_size, after.st_mtime_ns)


def read_and_parse(
    root: Path,
    candidates: list[InboxEntry],
    known_content: set[tuple[str, str]],
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> tuple[list[ReadResult], list[ReadResult]]:
    """(results, touched): one result per candidate whose content is new at its path, and the
    files whose content the lake already has at that path (only their mtime moved)."""
    results: list[ReadResult] = []
    touched: list[ReadResult] = []
    for candidate in candidates:
        if candidate.rejection:
            results.append(ReadResult(candidate.ref, None, rejection=candidate.rejection))
            continue
        try:
            data, ref = read_inside(root, candidate.ref, max_bytes)
        except Rejected as rejected:
            results.append(ReadResult(candidate.ref, None, rejection=rejected.reason))
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if (ref.path, sha256) in known_content:
            touched.append(ReadResult(ref, sha256))
            continue
        results.append(parse_file(ref, sha256, data))
    return results, touched


def parse_file(ref: FileRef, sha256: str, data: bytes) -> ReadResult:
    try:
        text, _encoding = decode_bytes(data)
        return ReadResult(ref, sha256, article=parse_document(text))
    except Rejected as rejected:
        return ReadResult(ref, sha256, rejection=rejected.reason)
    except Exception as exc:  # a parser bug on one odd file rejects that file, never the batch
        return ReadResult(ref, sha256, rejection=f"parse error ({type(exc).__name__}: {exc})")


@task(name="read-and-parse", cache_policy=NO_CACHE)
def read_and_parse_task(
    root: Path, candidates: list[InboxEntry], known_content: set[tuple[str, str]], max_bytes: int
) -> tuple[list[ReadResult], list[ReadResult]]:
    return read_and_parse(root, candidates, known_content, max_bytes)
