"""Read, decode and parse: discovered files become records (Article or rejection), in batches.

A file is one record, or a container of many (JSONL, JSON array, feed, WARC: tasks/formats) that
expands into records `<path>#<n>` as it is read (RecordStream).

Opening is where safety is enforced: the path is resolved again and checked to lie inside the
inbox (a symlink can change after discovery), it is opened without following a final symlink and
without blocking (a named pipe must never hang the run), and a file over the size limit is never
read (JSONL and WARC, streamed, have a limit per record instead). A file or record that fails in
any way is rejected with a reason; the batch goes on.
"""

from __future__ import annotations

import errno
import hashlib
import io
import itertools
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tasks.discover import FileToIngest, is_inside
from tasks.formats import detect
from tasks.formats.records import STREAMED, Record, stream_records, whole_file_records
from tasks.formats.settings import FormatSettings
from tasks.records import Article, FileRef, Rejected

if TYPE_CHECKING:
    from tasks.claims import Claim

DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
_HASH_CHUNK = 1 << 20


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


def open_inside(root: Path, ref: FileRef) -> BinaryIO:
    """`ref` opened for reading, after checking that it still lies inside the inbox. Raises Rejected."""
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
    return os.fdopen(fd, "rb")


def _regular_file_stat(handle: BinaryIO) -> os.stat_result:
    before = os.fstat(handle.fileno())
    if not stat.S_ISREG(before.st_mode):
        raise Rejected("not a regular file")
    return before


def _read_whole(handle: BinaryIO, ref: FileRef, before: os.stat_result, max_bytes: int) -> tuple[bytes, FileRef]:
    """The rest of an open file (from its current position) after `before` was taken, and the stat
    the bytes were read at; the file must fit `max_bytes` and not change while read."""
    if before.st_size > max_bytes:
        raise Rejected(f"too large ({human_size(before.st_size)} > {human_size(max_bytes)} limit)")
    handle.seek(0)
    data = handle.read(max_bytes + 1)
    after = os.fstat(handle.fileno())
    if len(data) > max_bytes:
        raise Rejected(f"too large (over the {human_size(max_bytes)} limit)")
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        raise Rejected("changed while being read")
    return data, FileRef(ref.path, after.st_size, after.st_mtime_ns)


def _hash_whole(handle: BinaryIO, ref: FileRef, before: os.stat_result) -> tuple[str, FileRef]:
    """sha256 of a whole open file of any size, read in chunks; it must not change while read."""
    digest, size = hashlib.sha256(), 0
    handle.seek(0)
    while chunk := handle.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    after = os.fstat(handle.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
        raise Rejected("changed while being read")
    return digest.hexdigest(), FileRef(ref.path, after.st_size, after.st_mtime_ns)


class _Bounded(io.RawIOBase):
    """The first `size` bytes of a file: a record reader never reads what was appended after the
    file was hashed (that is the next run's)."""

    def __init__(self, handle: BinaryIO, size: int):
        self._handle = handle
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only absolute seeks")
        return self._handle.seek(min(offset, self._size))

    def readinto(self, buffer) -> int:
        remaining = self._size - self._handle.tell()
        if remaining <= 0:
            return 0
        return self._handle.readinto(memoryview(buffer)[:remaining])


def read_inside(root: Path, ref: FileRef, max_bytes: int) -> tuple[bytes, FileRef]:
    """The bytes of `ref` and the stat they were read at. Raises Rejected."""
    with open_inside(root, ref) as handle:
        return _read_whole(handle, ref, _regular_file_stat(handle), max_bytes)


@dataclass
class ReadBatch:
    """What the stream read for one batch. `containers` are multi-record files all of whose records
    were read by the end of this batch: each gets a files row (status "container") with the size,
    mtime and sha256 of what was read, so an unchanged one is skipped whole next time."""

    results: list[ReadResult] = field(default_factory=list)
    touched: list[ReadResult] = field(default_factory=list)
    containers: list[ReadResult] = field(default_factory=list)
    files_done: int = 0  # candidates read completely so far in the run
    # With writers sharing a catalog: the claims (tasks.claims) all of whose files are read by the
    # end of this batch, to be completed once it commits.
    claims: list[Claim] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.results or self.touched or self.containers or self.claims)


class RecordStream:
    """The records of a run's candidate files, read in batches of at most n records.

    A single-article file is one record. A multi-record file (JSONL, JSON array, feed, WARC) expands
    into records `<path>#<n>` as it is read; JSONL and WARC are read record by record from the open
    file, so a file of any size costs one record's memory. A record the lake already holds with the
    same content (`known_records(path)` answers for a container's path) is skipped: a container that
    grew, or whose ingest was interrupted, yields only the records the lake lacks.
    The stream holds at most one open file: close() it (or use it in a with block) when done.
    """

    def __init__(self, root: Path, candidates: list[FileToIngest], known_content: set[tuple[str, str]],
                 known_records: Callable[[str], set[tuple[str, str]]] | None = None,
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, formats: FormatSettings | None = None):
        self._root = root
        self._known_content = known_content
        self._known_records = known_records
        self._max_file_bytes = max_file_bytes
        self._formats = formats or FormatSettings()
        self._files_done = 0
        self._items = self._read(candidates)

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._items.close()

    def next_batch(self, max_records: int) -> ReadBatch:
        batch = ReadBatch()
        lists = {"result": batch.results, "touched": batch.touched, "container": batch.containers}
        while len(batch.results) < max_records:
            item = next(self._items, None)
            if item is None:
                break
            kind, result = item
            lists[kind].append(result)
        batch.files_done = self._files_done
        return batch

    def _read(self, candidates: list[FileToIngest]) -> Iterator[tuple[str, ReadResult]]:
        for candidate in candidates:
            if candidate.rejection:
                yield "result", ReadResult(candidate.ref, None, rejection=candidate.rejection)
            else:
                try:
                    handle = open_inside(self._root, candidate.ref)
                except Rejected as rejected:
                    yield "result", ReadResult(candidate.ref, None, rejection=rejected.reason)
                else:
                    with handle:
                        yield from self._read_open(handle, candidate.ref)
            self._files_done += 1

    def _read_open(self, handle: BinaryIO, ref: FileRef) -> Iterator[tuple[str, ReadResult]]:
        try:
            before = _regular_file_stat(handle)
            head = handle.read(detect.SNIFF_BYTES)
            kind = detect.detect_format(ref.path, head)
            if kind in STREAMED:
                sha256, ref = _hash_whole(handle, ref, before)
            else:
                data, ref = _read_whole(handle, ref, before, self._max_file_bytes)
                sha256 = hashlib.sha256(data).hexdigest()
        except Rejected as rejected:
            yield "result", ReadResult(ref, None, rejection=rejected.reason)
            return
        if (ref.path, sha256) in self._known_content:
            yield "touched", ReadResult(ref, sha256)
            return
        if kind in STREAMED:
            handle.seek(0)
            compressed = head.startswith(detect.GZIP_MAGIC)
            records = stream_records(io.BufferedReader(_Bounded(handle, ref.size)), kind, compressed, self._formats)
        else:
            records = whole_file_records(ref.path, data, kind, self._formats, self._max_file_bytes)
        yield from self._expand(ref, sha256, records)

    def _expand(self, ref: FileRef, sha256: str, records: Iterator[Record]) -> Iterator[tuple[str, ReadResult]]:
        """One result per record; for a container, then its own row (or its rejection)."""
        try:
            first = next(records, None)
        except Rejected as rejected:
            yield "result", ReadResult(ref, sha256, rejection=rejected.reason)
            return
        except OSError as error:
            yield "result", ReadResult(ref, sha256, rejection=f"unreadable ({error.strerror or error})")
            return
        if first is None:
            yield "result", ReadResult(ref, sha256, rejection="no records")
            return
        if first.number is None:
            yield "result", _parsed(ref, sha256, first)
            return
        known = self._known_records(ref.path) if self._known_records is not None else set()
        try:
            for record in itertools.chain([first], records):
                record_ref = FileRef(f"{ref.path}#{record.number}", len(record.content), ref.mtime_ns)
                record_sha256 = hashlib.sha256(record.content).hexdigest()
                if (record_ref.path, record_sha256) not in known:
                    yield "result", _parsed(record_ref, record_sha256, record)
        except Rejected as rejected:  # the file failed as a whole after some of its records
            yield "result", ReadResult(ref, sha256, rejection=rejected.reason)
            return
        except OSError as error:  # a read error mid-file: the records so far stand, the file is not done
            yield "result", ReadResult(ref, sha256, rejection=f"unreadable ({error.strerror or error})")
            return
        yield "container", ReadResult(ref, sha256)


def _parsed(ref: FileRef, sha256: str, record: Record) -> ReadResult:
    try:
        return ReadResult(ref, sha256, article=record.parse())
    except Rejected as rejected:
        return ReadResult(ref, sha256, rejection=rejected.reason)
    except Exception as exc:  # a parser bug on one odd record rejects that record, never the batch
        return ReadResult(ref, sha256, rejection=f"parse error ({type(exc).__name__}: {exc})")


def read_and_parse(
    root: Path,
    candidates: list[FileToIngest],
    known_content: set[tuple[str, str]],
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_records: int = sys.maxsize,
    formats: FormatSettings | None = None,
) -> tuple[list[ReadResult], list[ReadResult]]:
    """(results, touched) of the first `max_records` records of `candidates` (see RecordStream):
    one result per record whose content is new at its path, and the files whose content the lake
    already has at that path (only their mtime moved)."""
    with RecordStream(root, candidates, known_content, max_file_bytes=max_bytes, formats=formats) as stream:
        batch = stream.next_batch(max_records)
    return batch.results, batch.touched
