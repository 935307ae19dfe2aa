"""Watching the inbox: files still being written wait, settled files are ingested once, and a real
`newslake watch` process picks up dropped files within seconds and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from newslake.watch import PendingFiles, Watcher, WatchSettings
from tasks.discover import scan_inbox
from tasks.open_files import held_for_writing
from tests.conftest import BBC, SEED, cli_environment, is_running, poll_until

NEWSLAKE = Path(sys.executable).parent / "newslake"
WAIT_SECONDS = 180  # generous bound for a loaded machine; the latency itself is measured in bench/


def lake_rows(lake: Path, query: str) -> list[tuple]:
    """Rows from the lake, or [] while it does not exist yet or a writer holds the catalog."""
    import duckdb

    import newslake
    from tasks.lake import LakeNotFound

    try:
        con = newslake.connect(lake)
    except (LakeNotFound, duckdb.Error):
        return []
    try:
        return con.execute(query).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()


wait_until = partial(poll_until, timeout=WAIT_SECONDS, interval=0.2)


@pytest.mark.parametrize("mode, held", [("w", True), ("a", True), ("r+", True), ("r", False)])
def test_held_for_writing_by_open_mode(tmp_path, mode, held):
    path = tmp_path / "article.txt"
    path.write_text("Title\n\nBody.\n")
    with open(path, mode):
        assert held_for_writing([str(path)]) == ({str(path)} if held else set())
    assert held_for_writing([str(path)]) == set()


def test_scan_leaves_young_files_for_later(tmp_path):
    (tmp_path / "a.txt").write_text("Title\n\nBody.\n")
    young = scan_inbox(tmp_path, set(), min_file_age=0.5)
    assert (young.candidates, young.settling) == ([], 1)
    time.sleep(0.6)
    settled = scan_inbox(tmp_path, set(), min_file_age=0.5)
    assert [c.ref.path for c in settled.candidates] == ["a.txt"] and settled.settling == 0


def test_scan_leaves_files_held_open_for_later(tmp_path):
    with open(tmp_path / "a.txt", "w") as writer:
        writer.write("Title\n\nFirst half.")
        writer.flush()
        held = scan_inbox(tmp_path, set())
    assert (held.candidates, held.settling) == ([], 1)
    assert len(scan_inbox(tmp_path, set()).candidates) == 1


def test_pending_files_ready_once_settled_and_closed(tmp_path):
    path = tmp_path / "a.txt"
    pending = PendingFiles(settle_seconds=0.3)
    with open(path, "w") as writer:
        writer.write("part one")
        writer.flush()
        pending.add({str(path)})
        assert pending.take_ready(time.time() + 1) == set()  # old enough, but still open
    assert pending.take_ready(time.time()) == set()  # closed, but changed just now
    assert pending.take_ready(time.time() + 1) == {str(path)}
    assert pending.paths == set()


def test_pending_files_forget_vanished_files(tmp_path):
    pending = PendingFiles(settle_seconds=0)
    pending.add({str(tmp_path / "gone.txt")})
    assert pending.take_ready(time.time()) == set() and pending.paths == set()


def test_watcher_burst_written_during_a_run_is_taken_whole_by_the_next_run(tmp_path):
    """The watcher's scheduling alone (its run function only records what it would ingest): runs
    never overlap, and files that arrive while a run is in flight wait for it and are then taken
    together, not a run per file."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settle_seconds = 0.2
    files_per_run: list[int] = []  # files each run would ingest: those no earlier run saw
    seen: set[str] = set()
    in_flight = threading.Event()
    release = threading.Event()

    def record_run(settings: WatchSettings) -> None:
        new = {path.name for path in inbox.iterdir()} - seen
        seen.update(new)
        files_per_run.append(len(new))
        if len(files_per_run) == 2:  # the first run the burst starts is held until it is all written
            in_flight.set()
            release.wait()

    watcher = Watcher(WatchSettings(seeds=inbox, lake=tmp_path / "lake", settle_seconds=settle_seconds), record_run)
    thread = threading.Thread(target=watcher.serve)
    thread.start()
    try:
        assert wait_until(lambda: files_per_run == [0])  # the initial run
        (inbox / "first.txt").write_text("Title\n\nBody.\n")
        assert in_flight.wait(WAIT_SECONDS)
        for n in range(1000):
            (inbox / f"{n:04}.txt").write_text("Title\n\nBody.\n")
        last_written = os.stat(inbox / "0999.txt").st_mtime
        assert wait_until(lambda: time.time() > last_written + settle_seconds)  # all settled before the run ends
        release.set()
        assert wait_until(lambda: len(seen) == 1001 and not watcher.pending.paths)
    finally:
        release.set()
        watcher.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    # Any later run (a late event) found nothing new: the burst went whole to one run.
    assert files_per_run[:3] == [0, 1, 1000] and not any(files_per_run[3:]), files_per_run


def test_flow_skips_file_held_open_then_ingests_it_whole(tmp_path, prefect_harness):
    from flows.ingest import IngestSettings, ingest

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    text = SEED.read_text(encoding="utf-8")
    with open(inbox / "slow.txt", "w", encoding="utf-8") as writer:
        writer.write(text[: len(text) // 2])
        writer.flush()
        first = ingest(IngestSettings(seeds=inbox, lake=lake))
        assert first.articles_new == 0 and lake_rows(lake, "SELECT count(*) FROM files") == [(0,)]
        writer.write(text[len(text) // 2 :])
    second = ingest(IngestSettings(seeds=inbox, lake=lake))
    assert second.articles_new == 1
    assert lake_rows(lake, "SELECT path, status, size FROM files") == [("slow.txt", "ingested", len(text.encode()))]


def children(pid: int) -> list[int]:
    """Child processes of `pid`, started by any of its threads."""
    found = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in listing.read_text().split()]
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return found


def ner_workers(watcher_pid: int) -> list[int]:
    """The running NER workers of a watcher: the children of its multiprocessing forkserver."""
    def is_forkserver(pid: int) -> bool:
        try:
            return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return False

    return [worker for server in children(watcher_pid) if is_forkserver(server)
            for worker in children(server) if is_running(worker)]


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"), reason="Linux /proc")
def test_watch_process_ingests_drops_and_slow_writer_then_stops_on_sigterm(tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    # No API URL: the watcher starts its own Prefect server, as a user's does.
    env = cli_environment(tmp_path / "prefect")
    log = tmp_path / "watch.log"
    with open(log, "wb") as out:
        watcher = subprocess.Popen(
            [str(NEWSLAKE), "watch", "--seeds", str(inbox), "--lake", str(lake)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # The initial run over the empty inbox creates the lake and records a run.
        assert wait_until(lambda: lake_rows(lake, "SELECT count(*) FROM runs") == [(1,)]), log.read_text()
        # One of its two NER workers is killed: the pool replaces it, and the next files get entities.
        assert wait_until(lambda: len(ner_workers(watcher.pid)) == 2), log.read_text()
        killed = ner_workers(watcher.pid)[0]
        os.kill(killed, signal.SIGKILL)
        dropped = sorted(BBC.glob("*.txt"))[:3]
        for path in dropped:
            shutil.copy(path, inbox / path.name)
        names = sorted(p.name for p in dropped)
        assert wait_until(lambda: [r[0] for r in lake_rows(lake, "SELECT source_path FROM articles ORDER BY 1")] == names), log.read_text()
        with_entities = lake_rows(lake, "SELECT count(DISTINCT article_id) FROM entities")
        assert with_entities == [(3,)], log.read_text()
        workers = ner_workers(watcher.pid)
        assert len(workers) == 2 and killed not in workers, log.read_text()
        assert log.read_text().count(f"NER worker pid {killed} killed by SIGKILL; replaced") == 1
        assert log.read_text().count("NER worker pid") == 1

        # A slow writer: half the file, a pause longer than the settle time with the file open, the rest.
        text = SEED.read_text(encoding="utf-8")
        with open(inbox / "slow.txt", "w", encoding="utf-8") as writer:
            writer.write(text[: len(text) // 2])
            writer.flush()
            time.sleep(2.5)
            writer.write(text[len(text) // 2 :])
        assert wait_until(lambda: lake_rows(lake, "SELECT count(*) FROM files WHERE path = 'slow.txt'") == [(1,)]), log.read_text()
        time.sleep(1.5)  # any second ingest of it would have happened by now
        assert lake_rows(lake, "SELECT path, size, status FROM files WHERE path = 'slow.txt'") == [
            ("slow.txt", len(text.encode()), "ingested")]
    finally:
        watcher.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        try:
            returncode = watcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()  # never left running by a failed test (its NER pool sees its pipe close and exits)
            raise
    assert returncode == 0, log.read_text()
    assert time.monotonic() - stopped_at < 10
    assert "stopped after" in log.read_text()
