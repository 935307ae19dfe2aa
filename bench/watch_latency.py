"""Watcher latency: from a file landing in the inbox to it being visible to `newslake sql`.

Starts a real `newslake watch` process on an empty temp inbox (its own PREFECT_HOME: ephemeral mode),
then measures, with the lake read the way `newslake sql` reads it (read-only open, polled every 20 ms):

- single drops: one article copied in, time until its `files` row is visible; p50/p95/max over --drops;
- a batch: --batch articles copied in at once, time until all are visible;
- the slow writer: half an article, a pause with the file open, the rest; time from the last write,
  and whether it was ingested whole and once;
- the baseline, measured in the same run: a one-shot `newslake ingest` process for one new file
  (process start to exit), what a user pays without a watcher.

Finally one real `newslake sql` call confirms what the poller saw.

    .venv/bin/python bench/watch_latency.py --drops 20 --batch 50
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
    args = parser.parse_args()

    articles = iter(distinct_real_files())
    work = Path(tempfile.mkdtemp(prefix="newslake-watch-bench-"))
    inbox, lake = work / "inbox", work / "lake"
    inbox.mkdir()
    env = environment(work / "prefect")
    log = (work / "watch.log").open("wb")
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
              f"(expected {args.drops + args.batch + 1})")
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
