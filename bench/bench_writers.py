"""Coordination overhead of many writers: 3 `newslake ingest --catalog` processes with 1 NER process
each, on one inbox and one PostgreSQL catalog, against the control, one `newslake ingest` with 2 NER
processes into a SQLite lake, on the same inbox, in the same run.

A round runs the control, then the writers (all started together; timed until the last exits), each
on a fresh lake (and a fresh PostgreSQL database), one after the other: the machine has 2 cores.
Claims, PostgreSQL and the serialized commits must cost under 15 %: writers' time <= control's / 0.85.

Every process reports to one Prefect server the bench starts, as writers on a work pool report to
the server of `make ui`; with --own-servers each process boots its own, as a lone `newslake ingest`
does (three servers booting at once on 2 cores). The PostgreSQL cluster is the bench's own, in its
temp folder. The writers' lake is checked against the control's (files by status, articles,
duplicates, entities).

Each round also prints the CPU of one process of each phase (its main process, its NER forkserver
and workers) and what the servers (PostgreSQL, the shared Prefect server) spent in each phase; the
end, the CPU the writers' processes and the servers spend beyond the control's. With --files 10
(start-up, next to no work) that is what the writers more cost to start; at full size, what is left
beyond it is what claims, PostgreSQL, the commit section and the smaller batches cost.

    .venv/bin/python bench/bench_writers.py --files 900 --repeat 3 --corpus ../shared/corpora/bbc
    .venv/bin/python bench/bench_writers.py --files 10 --repeat 3 --corpus ../shared/corpora/bbc
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ingest import ROLES, TreeSeen, children_by_parent, cpu_seconds, sample_tree  # noqa: E402
from bench.corpus import BBC, write_inbox  # noqa: E402
from flows.ingest import LATE_DUPLICATES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TREE_SAMPLE_SECONDS = 0.5  # each sample walks /proc: often enough for processes that live seconds
NEWSLAKE = ROOT / ".venv" / "bin" / "newslake"
TARGET_RATIO = 0.85
LATE = re.compile(r"\((\d+) found at commit: " + re.escape(LATE_DUPLICATES))
BATCH = re.compile(r"batch \d+: (\d+) new, (\d+) duplicates")
# What must match the control's: files by status, articles (and no id twice), duplicates. Entities
# match article by article; which copy of a near-duplicate pair is the article depends on which
# writer commits first, so only the articles both lakes hold are compared.
CONTENTS = """SELECT (SELECT list((status, n) ORDER BY status) FROM (SELECT status, count(*) AS n FROM files GROUP BY 1)),
                     (SELECT count(*) FROM articles), (SELECT count(DISTINCT article_id) FROM articles),
                     (SELECT count(*) FROM duplicates)"""
ENTITIES = "SELECT article_id, count(*) FROM entities GROUP BY article_id"


def real_inbox(folder: Path, count: int, corpus: Path) -> Path:
    """The corpus's first `count` files in path order, duplicates and all."""
    for path in sorted(corpus.rglob("*.txt"))[:count]:
        target = folder / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return folder


def machine_cpu_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: every state but idle and iowait).
    Nothing else runs beside a benchmark, so the difference over a phase is that phase's CPU: its
    processes, the Prefect server's and PostgreSQL's work for them."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def service_cpu_seconds(root: int) -> float:
    """CPU seconds a server has used so far, all its processes together: each live one's own and those
    of the children it has reaped (PostgreSQL's backends, one per connection, end with it)."""
    children = children_by_parent()
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += cpu_seconds(pid, reaped=True) or 0.0
        stack.extend(children.get(pid, ()))
    return total


def run_together(commands: list[list[str]], env: dict[str, str], logs: Path,
                 services: dict[str, int]) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """Start the commands at once; seconds until the last one exits (each must exit 0), the
    machine's CPU seconds meanwhile, and the CPU of the commands' process trees by role (their main
    processes; their NER forkservers and workers), summed over the commands, as sampled every
    TREE_SAMPLE_SECONDS: a process's last fraction of a second after its last sample is missed. The
    Prefect server and PostgreSQL are the bench's, in no tree: `services` (name: main process) are
    measured apart, the CPU each spends meanwhile."""
    service_cpu = {name: service_cpu_seconds(pid) for name, pid in services.items()}
    cpu, started = machine_cpu_seconds(), time.perf_counter()
    processes = []
    for n, command in enumerate(commands):
        with (logs / f"process-{n}.log").open("wb") as log:
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    trees = [TreeSeen({}, {}) for _ in processes]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(TREE_SAMPLE_SECONDS):
            children = children_by_parent()  # one walk of /proc for all the trees
            for process, seen in zip(processes, trees):
                sample_tree(process.pid, seen, children)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    codes = [process.wait() for process in processes]
    done.set()
    sampler.join()
    seconds, cpu = time.perf_counter() - started, machine_cpu_seconds() - cpu
    service_cpu = {name: service_cpu_seconds(pid) - service_cpu[name] for name, pid in services.items()}
    if any(codes):
        raise SystemExit(f"exit codes {codes}; logs in {logs}")
    return seconds, cpu, {role: sum(seen.cpu_by_role()[role] for seen in trees) for role in ROLES}, service_cpu


def tree_cpu(by_role: dict[str, float], processes: int) -> str:
    """A phase's tree CPU, per process: what one process of it cost, by role (a server only with
    --own-servers)."""
    return " + ".join(f"{role} {by_role[role] / processes:.1f}" for role in ROLES if by_role[role])


def service_cpu(by_service: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in by_service.items())


def contents(lake: Path, catalog: str | None) -> tuple[tuple, dict[str, int]]:
    import newslake

    con = newslake.connect(lake, catalog=catalog)
    try:
        return con.execute(CONTENTS).fetchone(), dict(con.execute(ENTITIES).fetchall())
    finally:
        con.close()


def differences(got: tuple[tuple, dict[str, int]], expected: tuple[tuple, dict[str, int]]) -> list[str]:
    (counts, entities), (expected_counts, expected_entities) = got, expected
    found = [] if counts == expected_counts else [f"files/articles/duplicates {counts} vs {expected_counts}"]
    both = entities.keys() & expected_entities.keys()
    found += [f"entities of {article_id}: {entities[article_id]} vs {expected_entities[article_id]}"
              for article_id in sorted(both) if entities[article_id] != expected_entities[article_id]]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=900, help="distinct articles in the inbox")
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--ner-processes", type=int, default=1, help="NER processes per writer")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="the writers' largest batch (and claim); by default newslake's, as the control's")
    parser.add_argument("--repeat", type=int, default=1, help="control/writers rounds; medians are reported")
    parser.add_argument("--own-servers", action="store_true", help="each process boots its own Prefect server")
    parser.add_argument("--corpus", type=Path, default=BBC)
    parser.add_argument("--real", action="store_true",
                        help="the inbox is the corpus's own first --files files, with its real duplicates, "
                             "instead of distinct articles: shows how often a duplicate is caught only at commit")
    args = parser.parse_args()

    from newslake.postgres import PostgresCluster, free_port

    with tempfile.TemporaryDirectory(prefix="newslake-bench-writers-") as tmp:
        work = Path(tmp)
        inbox = real_inbox(work / "inbox", args.files, args.corpus) if args.real else \
            write_inbox(work / "inbox", args.files, args.corpus)
        os.environ.update(PREFECT_HOME=str(work / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
        env = dict(os.environ)
        env.pop("PREFECT_API_URL", None)
        server = None
        if not args.own_servers:
            from newslake.prefect_server import TemporaryServer

            server = TemporaryServer()
            server.start()
            server.wait_until_healthy()
            env["PREFECT_API_URL"] = server.api_url
        work.chmod(0o755)  # the PostgreSQL server's own user must reach the cluster inside
        cluster = PostgresCluster.at(work / "pg")
        cluster.init(free_port())
        cluster.start()
        services = {"PostgreSQL": cluster.postmaster_pid}
        if server is not None:
            services["Prefect server"] = server.process.pid
        try:
            print(f"{args.files} {'real' if args.real else 'distinct'} articles; {args.writers} writers x {args.ner_processes} NER processes, batch {args.batch_size or 'as the control'}, "
                  f"vs 1 process x 2 NER processes on SQLite; "
                  f"{'a Prefect server each' if args.own_servers else 'one shared Prefect server'}; "
                  f"load average {os.getloadavg()[0]:.2f}")
            ratios, cpu = [], {"control": [], "writers": []}
            extra: dict[str, list[float]] = {role: [] for role in ROLES}
            service_extra: dict[str, list[float]] = {name: [] for name in services}
            for round_no in range(args.repeat):
                logs = work / f"logs-{round_no}"
                (logs / "control").mkdir(parents=True)
                (logs / "writers").mkdir()
                lake = work / f"control-{round_no}"
                control_command = [str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(lake)]
                control, control_cpu, control_trees, control_services = run_together(
                    [control_command], env, logs / "control", services)
                catalog = cluster.create_database(f"round_{round_no}")
                data = work / f"data-{round_no}"
                writer = [str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(data), "--catalog", catalog,
                          "--ner-processes", str(args.ner_processes)]
                if args.batch_size is not None:
                    writer += ["--batch-size", str(args.batch_size)]
                writers, writers_cpu, writers_trees, writers_services = run_together(
                    [writer] * args.writers, env, logs / "writers", services)
                different = differences(contents(data, catalog), contents(lake, None))
                ratios.append(control / writers)
                cpu["control"].append(control_cpu)
                cpu["writers"].append(writers_cpu)
                for role in ROLES:
                    extra[role].append(writers_trees[role] - control_trees[role])
                for name in services:
                    service_extra[name].append(writers_services[name] - control_services[name])
                texts = [log.read_text(errors="replace") for log in sorted((logs / "writers").iterdir())]
                late = sum(int(n) for text in texts for n in LATE.findall(text))
                # Each writer's batches, by the files each took (new articles and duplicates).
                batches = " ".join("/".join(str(int(new) + int(dups)) for new, dups in BATCH.findall(text)) for text in texts)
                print(f"[{round_no + 1}/{args.repeat}] control {control:6.1f} s, {control_cpu:5.1f} CPU-s"
                      f" | {args.writers} writers {writers:6.1f} s, {writers_cpu:5.1f} CPU-s"
                      f" | ratio {ratios[-1]:.3f} | same lake: {'NO' if different else 'yes'}"
                      f" | duplicates caught at commit {late} | batches {batches} | load {os.getloadavg()[0]:.2f}")
                print(f"      CPU-s per process: control {tree_cpu(control_trees, 1)}"
                      f" | writer {tree_cpu(writers_trees, args.writers)}"
                      f" | servers: control {service_cpu(control_services)} | writers {service_cpu(writers_services)}")
                if different:
                    raise SystemExit("the writers' lake differs from the control's: " + "; ".join(different[:5]))
            ratio = statistics.median(ratios)
            print(f"median CPU-s: control {statistics.median(cpu['control']):.1f}, "
                  f"writers {statistics.median(cpu['writers']):.1f}")
            # With --files 10, next to no work: what one process more costs to start, for comparing
            # with what the writers' trees spend beyond the control's at full size.
            print("median CPU-s the writers' trees spend beyond the control's: " + ", ".join(
                f"{role} {statistics.median(extra[role]):.1f}" for role in ROLES if any(extra[role]))
                + "; the servers: " + ", ".join(f"{name} {statistics.median(extra_cpu):.1f}"
                                                for name, extra_cpu in service_extra.items()))
            print(f"median ratio control/writers {ratio:.3f} (target >= {TARGET_RATIO}): "
                  f"{'OK' if ratio >= TARGET_RATIO else 'MISSED'}")
        finally:
            cluster.stop()
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
