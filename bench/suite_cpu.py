"""Where the test suite's CPU goes: `make test`'s pytest command run once, with every process on the
machine sampled from /proc twice a second, and the CPU each kind of process used added up (pytest's
workers, the Prefect servers of their harnesses, cold `newslake` commands, NER forkservers and
workers, PostgreSQL, Prefect's CLI and workers). A process that lives less than half a second is
missed; one that started before the run counts only what it used during it.

    .venv/bin/python bench/suite_cpu.py            # the whole suite, as make test runs it
    .venv/bin/python bench/suite_cpu.py -- tests/test_crash.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [str(Path(sys.executable).with_name("pytest")), "-q", "-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
# First match wins: (kind, a fragment of the command line).
KINDS = (
    ("NER forkserver and workers", "multiprocessing.forkserver"),
    ("Prefect server (tests' harness)", "prefect.server.api.server:create_app"),
    ("Prefect server (a newslake command's own)", "newslake.prefect_server"),
    ("newslake ingest", "newslake ingest"),
    ("newslake watch", "newslake watch"),
    ("other newslake commands", "bin/newslake"),
    ("Prefect worker", "prefect worker"),
    ("Prefect CLI", "bin/prefect"),
    ("PostgreSQL", "postgres"),
    ("moto's S3 server", "moto_server"),
    ("pytest and its workers", "bin/pytest"),
    ("pytest and its workers", "exec(eval(sys.stdin"),  # how xdist starts its workers
)


def kind_of(command: str) -> str:
    return next((kind for kind, fragment in KINDS if fragment in command), "other")


def sample(seen: dict[int, list]) -> None:
    """Each process's CPU seconds so far (the first sample of a process is its starting point)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        cpu = cpu_seconds(pid)
        if cpu is None:  # gone meanwhile
            continue
        if pid in seen:
            seen[pid][2] = cpu
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        seen[pid] = [command, cpu, cpu]


def main() -> None:
    arguments = sys.argv[1:]
    command = PYTEST + (arguments[1:] if arguments[:1] == ["--"] else arguments)
    seen: dict[int, list] = {}
    sample(seen)
    before = set(seen)
    started = time.monotonic()
    suite = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    while suite.poll() is None:
        sample(seen)
        time.sleep(0.5)
    wall = time.monotonic() - started
    used: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    for pid, (cmd, first, last) in seen.items():
        if pid == os.getpid():
            continue
        kind = kind_of(cmd)
        used[kind] += last - first if pid in before else last
        processes[kind] += 1
    total = sum(used.values())
    print(f"{' '.join(command[1:])}: exit {suite.returncode}, {wall:.0f} s, {total:.0f} CPU-s sampled "
          f"({total / wall:.2f} cores busy on average)")
    for kind, seconds in used.most_common():
        print(f"  {seconds:7.1f} CPU-s  {processes[kind]:4d} processes  {kind}")


if __name__ == "__main__":
    main()
