"""Watcher latency: from a file landing in the inbox to it being visible to `newslake sql`.

Starts a real `newslake watch` process on an empty temp inbox (its own PREFECT_HOME: ephemeral mode),
then measures, with the lake read the way `newslake sql` reads it (read-only open, polled every 20 ms):

- single drops: one article copied in, time until its `files` row is visible; p50/p95/max over --drops;
- a batch: --batch articles copied in at once, time until all are visible;
- the slow writer: half an article, a pause with the file open, the rest; time from the last write,
  and whether it was ingested whole and once;
- a killed NER worker (--after-kill N): a batch of N articles before one of the watcher's two NER
  workers is killed with SIGKILL between runs, and another N after: the time until each batch is
  visible with its entities, the NER processes alive again, and the watcher's log line;
- the baseline, measured in the same run: a one-shot `newslake ingest` process for one new file
  (process start to exit), what a user pays without a watcher.

Finally one real `newslake sql` call confirms what the poller saw.

    .venv/bin/python bench/watch_latency.py --drops 20 --batch 50
    .venv/bin/python bench/watch_latency.py --drops 3 --batch 10 --after-kill 100 --baseline-runs 1
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import children_by_parent  # noqa: E402
from corpus import distinct_real_files  # noqa: E402

NEWSLAKE = Path(sys.executable).with_name("newslake")
POLL_SECONDS = 0.02
TIMEOUT_SECONDS = 60.0


def count(lake: Path, query: str, params: list | None = None) -> int:
    """A count read from the lake the way `newslake sql` reads it; 0 while there is no lake yet."""
    import duckdb

    from tasks.lake import LakeNotFound, open_lake

    try:
        con = open_lake(lake, read_only=True)
    except (LakeNotFound, duckdb.Error):
        return 0
    try:
        return con.execute(query, params or []).fetchone()[0]
    except duckdb.Error:  # the catalog mid-commit: try again
        return 0
    finally:
        con.close()


def visible(lake: Path, paths: list[str]) -> int:
    """How many of `paths` the lake's `files` table holds, as a reader sees it now."""
    return count(lake, "SELECT count(DISTINCT path) FROM files WHERE list_contains(?, path)", [paths])


def wait_visible(lake: Path, paths: list[str], since: float) -> float:
    deadline = since + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if visible(lake, paths) == len(paths):
            return time.monotonic() - since
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{paths[:3]}... not visible after {TIMEOUT_SECONDS}s")


def ner_workers(watcher: int) -> list[int]:
    """The watcher's NER workers: the children of its multiprocessing forkserver."""
    children = children_by_parent()
    forkservers = [pid for pid in children.get(watcher, [])
                   if b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return [worker for server in forkservers for worker in children.get(server, [])]


def timed_batch(inbox: Path, lake: Path, articles, size: int) -> tuple[float, int]:
    """Drop `size` articles at once; seconds until all are visible, and how many have entities."""
    batch = [next(articles) for _ in range(size)]
    for name, data in batch:
        (inbox / name).write_bytes(data)
    seconds = wait_visible(lake, [name for name, _ in batch], time.monotonic())
    with_entities = count(lake, "SELECT count(DISTINCT a.source_path) FROM articles AS a JOIN entities USING (article_id) "
                                "WHERE list_contains(?, a.source_path)", [[name for name, _ in batch]])
    return seconds, with_entities


def after_a_killed_worker(watcher: int, inbox: Path, lake: Path, articles, size: int, log: Path) -> None:
    before, before_entities = timed_batch(inbox, lake, articles, size)
    workers = ner_workers(watcher)
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while (victim in ner_workers(watcher) or len(ner_workers(watcher)) < len(workers)) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    after, after_entities = timed_batch(inbox, lake, articles, size)
    logged = [line for line in log.read_text(errors="replace").splitlines() if f"NER worker pid {victim}" in line]
    print(f"batch of {size} before a NER worker was killed: visible in {before:.2f}s, {before_entities} with entities")
    print(f"batch of {size} after (worker {victim} SIGKILLed between runs): visible in {after:.2f}s, "
          f"{after_entities} with entities; after/before {after / before:.2f}; NER workers alive "
          f"{len(ner_workers(watcher))} of {len(workers)}; logged {len(logged)}x: {logged[0].split(' - ')[-1] if logged else '-'}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSLAKE_"))}
    return {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--after-kill", type=int, default=0, metavar="N",
                        help="articles per batch before and after a NER worker is killed (0: skip)")
    args = parser.parse_args()

    articles = iter(distinct_real_files())
    work = Path(tempfile.mkdtemp(prefix="newslake-watch-bench-"))
    inbox, lake = work / "inbox", work / "lake"
    inbox.mkdir()
    env = environment(work / "prefect")
    log_path = work / "watch.log"
    log = log_path.open("wb")
    started = time.monotonic()
    watcher = subprocess.Popen([str(NEWSLAKE), "watch", "--seeds", str(inbox), "--lake", str(lake)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not count(lake, "SELECT count(*) FROM runs WHERE status = 'completed'"):
            time.sleep(0.1)  # the initial run over the empty inbox has not finished yet
        print(f"watcher ready (initial run over the empty inbox done) after {time.monotonic() - started:.1f}s")

        singles = []
        for _ in range(args.drops):
            name, data = next(articles)
            (inbox / name).write_bytes(data)
            singles.append(wait_visible(lake, [name], time.monotonic()))
            time.sleep(0.3)
        print(f"single drops ({len(singles)}): p50 {statistics.median(singles):.2f}s  "
              f"p95 {percentile(singles, 0.95):.2f}s  max {max(singles):.2f}s")

        batch = [next(articles) for _ in range(args.batch)]
        for name, data in batch:
            (inbox / name).write_bytes(data)
        last_write = time.monotonic()
        print(f"batch of {args.batch} dropped at once: all visible {wait_visible(lake, [n for n, _ in batch], last_write):.2f}s "
              "after the last write")

        if args.after_kill:
            after_a_killed_worker(watcher.pid, inbox, lake, articles, args.after_kill, log_path)

        name, data = next(articles)
        half = len(data) // 2
        with open(inbox / name, "wb") as writer:
            writer.write(data[:half])
            writer.flush()
            time.sleep(3.0)
            writer.write(data[half:])
        slow = wait_visible(lake, [name], time.monotonic())
        time.sleep(2.0)  # room for a second, wrong ingest to show up
        import newslake

        con = newslake.connect(lake)
        rows = con.execute("SELECT size, status FROM files WHERE path = ?", [name]).fetchall()
        con.close()
        verdict = "whole and once" if rows == [(len(data), rows[0][1])] else f"WRONG: {rows}"
        print(f"slow writer (half, 3 s pause with the file open, rest): visible {slow:.2f}s after the last write, "
              f"ingested {verdict} ({rows[0][1]})")

        check = subprocess.run([str(NEWSLAKE), "sql", "--lake", str(lake), "--format", "csv",
                                "SELECT count(*) AS files FROM files"], env=env, capture_output=True, text=True)
        print(f"newslake sql sees {check.stdout.split()[-1]} files "
              f"(expected {args.drops + args.batch + 2 * args.after_kill + 1})")
    finally:
        watcher.send_signal(signal.SIGTERM)
        stop = time.monotonic()
        code = watcher.wait(timeout=60)
        print(f"watcher stopped {time.monotonic() - stop:.2f}s after SIGTERM, exit code {code}")

    baseline = []
    for n in range(args.baseline_runs):
        name, data = next(articles)
        (inbox / name).write_bytes(data)
        start = time.monotonic()
        subprocess.run([str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(lake)],
                       env=environment(work / f"prefect-once-{n}"), capture_output=True, check=True)
        baseline.append(time.monotonic() - start)
    print(f"baseline, one-shot `newslake ingest` of one new file (fresh process): "
          f"median {statistics.median(baseline):.2f}s over {len(baseline)} runs")
    print(f"watcher p50 is {statistics.median(baseline) / statistics.median(singles):.0f}x faster; work folder {work}")


if __name__ == "__main__":
    main()
