"""Has ingest throughput dropped since an earlier version? That version and this checkout (or a
later revision: --later), timed against each other in one run on the same inbox.

A revision is checked out with `git worktree` into the temp folder and runs on this checkout's
venv, its code first on PYTHONPATH (so a revision whose dependencies this venv holds).
Each round times a whole cold `newslake ingest` (Python start, imports, model load, Prefect's
ephemeral server included) of each version into an empty lake, one after the other; the order
alternates from round to round, so that a machine slowing down over the run favours neither. A
round's ratio is the earlier version's seconds over the later one's: above 1 the later is faster.
The medians of several rounds are what to compare: a single round moves with the load. Each run's
CPU is reported too, by role (the newslake process, Prefect's server, NER's processes), so that a
difference in seconds can be placed: the same NER work has cost 44-55 CPU-s from run to run here.
With --together both versions' ingests run at the same time in each round, sharing the cores: each
run takes longer, but the two meet the same conditions, free of what moves the machine's speed
between one run and the next.

    .venv/bin/python bench/bench_revisions.py --rev d2fb11d --files 900 --repeat 5
    .venv/bin/python bench/bench_revisions.py --rev a304d8c --later eccf3c8   # what one merge changed
    .venv/bin/python bench/bench_revisions.py --rev eccf3c8 --together
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import PYTHON, ROLES, Measured, mb, run_measured  # noqa: E402
from bench.corpus import BBC, write_inbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.0


@contextmanager
def checked_out(rev: str, folder: Path) -> Iterator[Path]:
    """`rev` of this repository checked out at `folder` (a git worktree) for the block's length."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder), rev], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False)


Result = TypeVar("Result")


def alternating_rounds(names: list[str], repeat: int, run: Callable[[str, int], Result],
                       together: bool) -> Iterator[tuple[int, list[str], dict[str, Result]]]:
    """`repeat` rounds of `run(name, round_no)` for every version named: (round_no, the order run,
    each one's result). One after the other, the order alternating from round to round, so that a
    machine slowing down over the run favours neither; or, `together`, all at once."""
    for round_no in range(repeat):
        order = list(names) if round_no % 2 == 0 else list(reversed(names))
        if together:
            with ThreadPoolExecutor(len(order)) as at_once:
                results = dict(zip(order, at_once.map(run, order, [round_no] * len(order))))
        else:
            results = {name: run(name, round_no) for name in order}
        yield round_no, order, results


def console_script(code: Path) -> str:
    """Python that runs the `newslake` console script as that version's pyproject.toml declares it
    (its entry point moved between versions)."""
    module, _, function = tomllib.loads((code / "pyproject.toml").read_text())["project"]["scripts"]["newslake"].partition(":")
    return f"import sys; from {module} import {function} as entry; sys.argv[0] = 'newslake'; sys.exit(entry())"


def timed_ingest(code: Path, inbox: Path, lake: Path, prefect_home: Path) -> Measured:
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PYTHONPATH": str(code)}
    env.pop("PREFECT_API_URL", None)
    # Run from the code's own folder, so the checkout in the current directory never shadows it.
    measured = run_measured([str(PYTHON), "-c", console_script(code), "ingest", "--seeds", str(inbox), "--lake", str(lake)], env=env,
                            cwd=code)
    if "new articles" not in measured.stdout:
        raise SystemExit(f"{code}: no run summary:\n{measured.stdout[-2000:]}")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", required=True, help="the earlier revision (any git revision of this repository)")
    parser.add_argument("--later", help="the later revision (default: this checkout, as it is)")
    parser.add_argument("--files", type=int, default=900, help="distinct articles in the inbox")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--corpus", type=Path, default=BBC)
    parser.add_argument("--together", action="store_true", help="run both versions at once in each round")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="newslake-bench-revisions-") as tmp:
        work = Path(tmp)
        with ExitStack() as checkouts:
            versions = {name: checkouts.enter_context(checked_out(rev, work / name)) if rev is not None else ROOT
                        for name, rev in (("earlier", args.rev), ("later", args.later))}
            inbox = write_inbox(work / "inbox", args.files, args.corpus)
            print(f"{args.files} distinct articles; load average {os.getloadavg()[0]:.2f}")
            for name, folder in versions.items():
                described = subprocess.run(["git", "-C", str(folder), "log", "-1", "--format=%h %s"],
                                           capture_output=True, text=True, check=True).stdout.strip()
                print(f"{name}: {described[:100]}" + (" (this checkout, as it is)" if folder == ROOT else ""))
            seconds: dict[str, list[float]] = {name: [] for name in versions}
            cpu: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
            ratios = []
            def ingest(name: str, round_no: int) -> Measured:
                return timed_ingest(versions[name], inbox, work / f"lake-{name}-{round_no}",
                                    work / f"prefect-{name}-{round_no}")

            for round_no, order, measured in alternating_rounds(list(versions), args.repeat, ingest, args.together):
                for name in order:
                    seconds[name].append(measured[name].seconds)
                    cpu[name].append(measured[name].cpu_by_role)
                ratios.append(measured["earlier"].seconds / measured["later"].seconds)
                print(f"[{round_no + 1}/{args.repeat}] "
                      + " | ".join(f"{name} {measured[name].seconds:6.1f} s {args.files / measured[name].seconds:5.1f} art/s "
                                   f"peak {mb(measured[name].peak_rss)}" for name in order)
                      + f" | ratio earlier/later {ratios[-1]:.3f} | load {os.getloadavg()[0]:.2f}")
                print("      CPU-s " + " | ".join(f"{name}: {measured[name].cpu()}" for name in order))
            print(f"median seconds: earlier {statistics.median(seconds['earlier']):.1f}, "
                  f"later {statistics.median(seconds['later']):.1f}")
            for name in versions:
                print(f"median CPU-s, {name}: " + ", ".join(
                    f"{role} {statistics.median(run[role] for run in cpu[name]):.1f}" for role in ROLES)
                      + f", all {statistics.median(sum(run.values()) for run in cpu[name]):.1f}")
            ratio = statistics.median(ratios)
            print(f"median ratio earlier/later {ratio:.3f} (no drop: >= {TARGET_RATIO:.2f} within the rounds' spread, "
                  f"{min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
