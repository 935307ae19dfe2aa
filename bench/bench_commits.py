"""Commit ceiling: how many batch commits per second a lake takes, with its catalog in PostgreSQL and
2, 4 and 8 writer processes committing at once, beside one writer on a SQLite catalog (today's
embedded lake) measured in the same run as the baseline.

Each writer commits small synthetic batches (bench/commit_load.py: new articles with their entities
and files rows, one DuckLake transaction per batch through tasks.lake.commit_batch) as fast as it
can for --seconds. PostgreSQL is the project's own (newslake.postgres), started in a temp folder.
From the best PostgreSQL figure and one machine's batch rate (--articles-per-second per machine, in
batches of --batch-files), it prints how many machines one lake takes before commits are the limit.

    .venv/bin/python bench/bench_commits.py --seconds 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.commit_load import Writers  # noqa: E402
from newslake.postgres import PostgresCluster  # noqa: E402
from tasks.lake import LakeLocation, open_lake  # noqa: E402


def commits_per_second(location: LakeLocation, writers: int, articles_per_batch: int,
                       seconds: float) -> tuple[float, int]:
    """Batch commits per second across `writers` processes committing for `seconds`, and the total."""
    open_lake(location).close()  # created (and migrated) before the clock starts
    with Writers(location, writers, articles_per_batch) as group:
        group.start_committing()
        time.sleep(seconds)
        committed = group.finish()
    total = sum(commits for commits, _ in committed.values())
    mean_seconds = sum(elapsed for _, elapsed in committed.values()) / len(committed)
    return total / mean_seconds, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="How long each configuration commits.")
    parser.add_argument("--writers", type=int, nargs="+", default=[2, 4, 8], help="Writer counts on PostgreSQL.")
    parser.add_argument("--articles-per-batch", type=int, default=20, help="New articles in each committed batch.")
    parser.add_argument("--articles-per-second", type=float, default=35.0, help="One machine's ingest rate.")
    parser.add_argument("--batch-files", type=int, default=400, help="Files per batch in a real ingest.")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="newslake-bench-commits-"))
    workdir.chmod(0o755)  # the PostgreSQL server's own user reaches its cluster inside
    cluster = PostgresCluster.at(workdir / "pg")
    try:
        cluster.init()
        cluster.start()
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        print(f"{args.articles_per_batch} articles per batch, {args.seconds:g} s per configuration\n")
        print(f"{'catalog':<12}{'writers':>8}{'commits':>9}{'commits/s':>11}{'vs baseline':>13}")
        baseline, total = commits_per_second(LakeLocation(workdir / "sqlite-lake"), 1, args.articles_per_batch,
                                             args.seconds)
        print(f"{'sqlite':<12}{1:>8}{total:>9}{baseline:>11.1f}{1.0:>12.2f}x")
        best = 0.0
        for writers in args.writers:
            url = cluster.create_database(f"bench_{writers}")
            rate, total = commits_per_second(LakeLocation(workdir / f"pg-lake-{writers}", url), writers,
                                             args.articles_per_batch, args.seconds)
            best = max(best, rate)
            print(f"{'postgresql':<12}{writers:>8}{total:>9}{rate:>11.1f}{rate / baseline:>12.2f}x")
        machine_batches = args.articles_per_second / args.batch_files
        print(f"\none machine: {args.articles_per_second:g} articles/s in batches of {args.batch_files} files "
              f"= {machine_batches:.4f} commits/s")
        print(f"machines one PostgreSQL-catalog lake takes before commits limit: "
              f"{best:.1f} / {machine_batches:.4f} = {best / machine_batches:.0f}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
