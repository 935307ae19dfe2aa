"""The NER pool alone, this checkout's against an earlier revision's: the same bodies through each, in
batches, while the main thread is kept busy between batches with pure-Python work (as parsing, dedup
and Prefect keep a run's main process busy), so the pool's hand-out competes for the GIL and the cores
as in a run. No Prefect, no lake: what differs is the pool.

Each round runs both versions, one after the other (the order alternating), each in a process of its
own with its code first on PYTHONPATH (a revision is checked out with `git worktree`). A version's
pool is `tasks.ner.NerPool`, or `NerWorkers` before it had that name; either takes the process count
and has submit(bodies).entities() and close(). Reported per run: the seconds from the first batch's
submit to the last entity (the model already loaded), and the CPU of the NER processes (sampled from
/proc, as bench_ingest does).

With --together both versions run at the same time instead, four NER workers sharing the cores: their
seconds say little then, but their CPU for the same bodies is measured under the same conditions,
free of what moves the machine's speed between one run and the next.

    .venv/bin/python bench/bench_ner_pool.py --rev eccf3c8 --corpus ../shared/corpora/bbc
    .venv/bin/python bench/bench_ner_pool.py --rev eccf3c8 --together --corpus ../shared/corpora/bbc
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import PYTHON, run_measured  # noqa: E402
from bench.bench_revisions import ROOT, alternating_rounds, checked_out  # noqa: E402
from bench.corpus import BBC, write_inbox  # noqa: E402

# Run as `python -c`: a forkserver's workers then have no main module to import again.
POOL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    from tasks import ner

    folder, batch_size, busy_seconds = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    bodies = [p.read_text(encoding="utf-8", errors="replace").partition("\\n")[2].strip()
              for p in sorted(folder.rglob("*.txt"))]

    def keep_busy(seconds):
        end, x = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            for i in range(1000):
                x += i * i

    pool = (getattr(ner, "NerPool", None) or ner.NerWorkers)(2)
    list(pool.submit(bodies[:1]).entities())  # the model is loaded
    started, entities, previous = time.monotonic(), 0, None
    for start in range(0, len(bodies), batch_size):
        job = pool.submit(bodies[start : start + batch_size])
        keep_busy(busy_seconds)
        if previous is not None:
            entities += sum(map(len, previous.entities()))
        previous = job
    entities += sum(map(len, previous.entities()))
    print(f"{time.monotonic() - started:.2f} {len(bodies)} {entities}")
    pool.close()
    """
)


def run_pool(code: Path, inbox: Path, batch_size: int, busy_seconds: float) -> tuple[float, float, str]:
    """(seconds of the NER phase, CPU-s of the NER processes, bodies and entities) of one run."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    measured = run_measured([str(PYTHON), "-c", POOL_SCRIPT, str(inbox), str(batch_size), str(busy_seconds)],
                            env=env, cwd=code)
    seconds, bodies, entities = measured.stdout.split()
    return float(seconds), measured.cpu_by_role["NER"], f"{bodies} bodies, {entities} entities"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", required=True, help="the earlier revision whose pool to compare with")
    parser.add_argument("--files", type=int, default=900)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--busy", type=float, default=2.0, help="seconds the main thread works between batches")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=BBC)
    parser.add_argument("--together", action="store_true", help="run both versions at once in each round")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="newslake-bench-ner-pool-") as tmp:
        work = Path(tmp)
        with checked_out(args.rev, work / "earlier") as earlier:
            inbox = write_inbox(work / "inbox", args.files, args.corpus)
            versions = {"earlier": earlier, "this": ROOT}
            print(f"{args.files} articles, batches of {args.batch_size}, main thread busy {args.busy} s between "
                  f"batches; earlier = {args.rev}; load average {os.getloadavg()[0]:.2f}")
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}

            def pool_run(name: str, round_no: int) -> tuple[float, float, str]:
                return run_pool(versions[name], inbox, args.batch_size, args.busy)

            for round_no, order, results in alternating_rounds(list(versions), args.repeat, pool_run, args.together):
                for name in order:
                    seconds, cpu, counts = results[name]
                    runs[name].append((seconds, cpu))
                    print(f"[{round_no + 1}/{args.repeat}] {name:8s} {seconds:6.1f} s, NER {cpu:5.1f} CPU-s ({counts})",
                          flush=True)
            for name, measured in runs.items():
                print(f"median, {name}: {statistics.median(s for s, _ in measured):.1f} s, "
                      f"NER {statistics.median(c for _, c in measured):.1f} CPU-s")


if __name__ == "__main__":
    main()
