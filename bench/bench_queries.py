"""The example queries on a lake of 1,000,000 articles, and ingesting a batch into it.

Builds (or reuses, with --reuse) a DuckLake holding `--articles` articles with their entities,
sources, files, duplicates, LSH band keys and run history. The rows are real enriched rows repeated
under new ids: a seed lake is made by `newslake ingest` of `--seed` real BBC articles, then each copy
of it gets new article ids (md5 of the seed id and the copy number), its own publication time
(spread evenly over the two years before now, newest copy last) and its own band keys (so near
dedup sees as few collisions as with real history). The copies are written with DuckDB SQL in one
transaction per table and chunk of copies, into a lake made by tasks.lake.open_lake (the project's
own table layout), as compaction would leave them.

Then, each query in sql/examples/ is run as `newslake sql` runs it (a read-only connection from
tasks.lake; quotes_by_person for the lake's most quoted person), timed cold (first run in a fresh
connection) and warm (median of 3). Last, a batch of `--batch` new real articles is ingested with
`newslake ingest` (whole process) into a copy-free empty lake and into the big lake, and the two
times compared.

    .venv/bin/python bench/bench_queries.py                 # build in /tmp/newslake-bench-lake
    .venv/bin/python bench/bench_queries.py --reuse         # time again on the lake built before
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import BBC, distinct_real_files  # noqa: E402
from tasks.lake import CATALOG_FILE, DATA_DIR, open_lake  # noqa: E402
from tasks.schema import TABLES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NEWSLAKE = ROOT / ".venv" / "bin" / "newslake"
EXAMPLES = ROOT / "sql" / "examples"
TARGET_SECONDS = 1.0
TARGET_INGEST_RATIO = 1.2
SPREAD = timedelta(days=730)
ARTICLES_PER_RUN = 400
# quotes_by_person's person; the seed articles may quote someone else only, so the bench asks for
# the lake's most quoted person instead, for a query that returns rows.
EXAMPLE_SPEAKER = "Tony Blair"
MOST_QUOTED = "SELECT speaker FROM quotes WHERE speaker_label = 'PERSON' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"

# One INSERT per table per chunk of copies. `ids` maps each seed article and copy to its new id,
# its sequence number (0 = oldest) and its publication time.
IDS = """
CREATE OR REPLACE TEMP TABLE ids AS
SELECT s.article_id AS seed_id, c.copy,
       md5(s.article_id || '/' || c.copy) AS article_id,
       c.copy * $seed_count + s.k AS seq,
       $oldest + to_microseconds(((c.copy * $seed_count + s.k)::DOUBLE * $spread_us / $total)::BIGINT) AS published_at
FROM (SELECT article_id, row_number() OVER (ORDER BY article_id) - 1 AS k FROM seed.articles) AS s
CROSS JOIN range($first_copy, $last_copy) AS c(copy)
"""
INSERTS = {
    "articles": """
        INSERT INTO lake.articles BY NAME
        SELECT i.article_id, s.title, s.dek, s.alt_title, s.authors, s.outlet, i.published_at, s.body,
               s.image_caption, s.image_credit, s.topic, s.word_count, s.language, s.format,
               'synthetic/' || i.copy || '/' || s.source_path AS source_path, s.file_sha256,
               'synthetic-run-' || (i.seq // $per_run) AS run_id, i.published_at + INTERVAL 1 HOUR AS ingested_at
        FROM ids AS i JOIN seed.articles AS s ON s.article_id = i.seed_id
        ORDER BY i.seq""",
    "minhash_bands": """
        INSERT INTO lake.minhash_bands BY NAME
        SELECT i.article_id, m.band, (hash(m.band_hash, i.copy) >> 1)::BIGINT AS band_hash
        FROM ids AS i JOIN seed.minhash_bands AS m ON m.article_id = i.seed_id""",
    # One copy in 20 arrives twice: a second file, an exact or near duplicate of the first.
    "duplicates": """
        INSERT INTO lake.duplicates BY NAME
        SELECT 'synthetic-copies/' || i.copy || '/' || s.source_path AS source_path,
               md5(i.article_id || 'copy') || md5(i.article_id) AS file_sha256, i.article_id,
               CASE WHEN i.seq % 40 = 0 THEN 'exact' ELSE 'near' END AS method,
               CASE WHEN i.seq % 40 = 0 THEN 1.0 ELSE 0.9 END AS similarity,
               'synthetic-run-' || (i.seq // $per_run) AS run_id
        FROM ids AS i JOIN seed.articles AS s ON s.article_id = i.seed_id
        WHERE i.seq % 20 = 0""",
    "files": """
        INSERT INTO lake.files BY NAME
        SELECT 'synthetic/' || i.copy || '/' || s.source_path AS path, md5(i.article_id) || md5(i.seed_id) AS sha256,
               strlen(s.body) AS size, epoch_ns(i.published_at) AS mtime_ns, 'ingested' AS status,
               NULL AS reason, i.article_id, 'synthetic-run-' || (i.seq // $per_run) AS run_id,
               i.published_at + INTERVAL 1 HOUR AS seen_at
        FROM ids AS i JOIN seed.articles AS s ON s.article_id = i.seed_id
        UNION ALL
        SELECT 'synthetic-copies/' || i.copy || '/' || s.source_path, md5(i.article_id || 'copy') || md5(i.article_id),
               strlen(s.body), epoch_ns(i.published_at), 'duplicate', NULL, i.article_id,
               'synthetic-run-' || (i.seq // $per_run), i.published_at + INTERVAL 1 HOUR
        FROM ids AS i JOIN seed.articles AS s ON s.article_id = i.seed_id
        WHERE i.seq % 20 = 0""",
}


# Every other table keyed by article: the seed's rows under the copy's id.
PER_ARTICLE = """
    INSERT INTO lake.{table} BY NAME
    SELECT i.article_id, t.* EXCLUDE (article_id)
    FROM ids AS i JOIN seed.{table} AS t ON t.article_id = i.seed_id"""
RUNS = """
    INSERT INTO lake.runs BY NAME
    SELECT run_id, 'ingest' AS flow, min(ingested_at) AS started_at,
           max(ingested_at) + INTERVAL 15 SECOND AS finished_at, 'completed' AS status,
           count(*) AS files_seen, count(*) AS articles_new, 0 AS duplicates, 0 AS rejected, NULL AS snapshot_id
    FROM lake.articles GROUP BY run_id"""
# Identities belong to names, not articles: every copy names the seed's people, so the seed's rows
# are the copies' identities too, once.
ENTITY_IDS = "INSERT INTO lake.entity_ids BY NAME SELECT * FROM seed.entity_ids"


def ingest(inbox: Path, lake: Path, prefect_home: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    started = time.perf_counter()
    done = subprocess.run([str(NEWSLAKE), "ingest", "--seeds", str(inbox), "--lake", str(lake)],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"newslake ingest failed:\n{done.stderr[-3000:]}")
    return seconds


def write_files(folder: Path, files: list[tuple[str, bytes]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)
    return folder


def build_lake(work: Path, articles: int, seed_files: list[tuple[str, bytes]], chunk_copies: int) -> Path:
    seed_lake = work / "seed_lake"
    print(f"seed lake: newslake ingest of {len(seed_files)} real articles ...", flush=True)
    ingest(write_files(work / "seed_inbox", seed_files), seed_lake, work / "prefect_seed")
    lake = work / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    con = open_lake(lake)
    try:
        con.execute("SET memory_limit = '6GB'")
        catalog = str(seed_lake / CATALOG_FILE).replace("'", "''")
        con.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS seed (READ_ONLY)")
        seed_count = con.execute("SELECT count(*) FROM seed.articles").fetchone()[0]
        copies = -(-articles // seed_count)
        total = copies * seed_count
        params = {"seed_count": seed_count, "total": total, "spread_us": int(SPREAD.total_seconds() * 1e6),
                  "oldest": datetime.now(UTC) - SPREAD}
        for first in range(0, copies, chunk_copies):
            started = time.perf_counter()
            last = min(copies, first + chunk_copies)
            con.execute(IDS, {**params, "first_copy": first, "last_copy": last})
            for table in TABLES:
                insert = INSERTS.get(table) or (PER_ARTICLE.format(table=table)
                                                if "article_id" in TABLES[table].names else None)
                if insert is None:
                    continue
                con.execute("BEGIN")
                con.execute(insert, {"per_run": ARTICLES_PER_RUN} if "$per_run" in insert else {})
                con.execute("COMMIT")
            print(f"  copies {first}..{last - 1} of {copies} ({seed_count} articles each) "
                  f"in {time.perf_counter() - started:.0f} s", flush=True)
        for insert in (RUNS, ENTITY_IDS):
            con.execute("BEGIN")
            con.execute(insert)
            con.execute("COMMIT")
        counts = {t: con.execute(f"SELECT count(*) FROM lake.{t}").fetchone()[0] for t in TABLES}
        print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    finally:
        con.close()
    return lake


def time_queries(lake: Path) -> dict[str, tuple[float, float, float, int]]:
    """query name -> (cold seconds, warm median seconds, warm median CPU seconds, rows). CPU time
    (all of DuckDB's threads) does not grow with other processes' load: on an idle machine the
    wall time is at most that."""
    timings = {}
    con = open_lake(lake, read_only=True)  # a connection of its own: the examples' stay cold
    try:
        speaker = con.execute(MOST_QUOTED).fetchone()[0]
    finally:
        con.close()
    for path in sorted(EXAMPLES.glob("*.sql")):
        query = path.read_text(encoding="utf-8")
        if path.stem == "quotes_by_person":
            query = query.replace(f"'{EXAMPLE_SPEAKER}'", "'" + speaker.replace("'", "''") + "'")
        con = open_lake(lake, read_only=True)
        try:
            runs, cpu, rows = [], [], 0
            for _ in range(4):
                started, started_cpu = time.perf_counter(), time.process_time()
                rows = len(con.execute(query).fetchall())
                runs.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
        finally:
            con.close()
        timings[path.stem] = (runs[0], statistics.median(runs[1:]), statistics.median(cpu[1:]), rows)
    return timings


def copy_lake(lake: Path, copy: Path) -> Path:
    """A writable copy: Parquet files hard-linked (they are never modified), the catalog copied and
    pointed at the copy's data folder (file paths in it are relative to that folder)."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(lake / DATA_DIR, copy / DATA_DIR, copy_function=os.link)
    shutil.copy2(lake / CATALOG_FILE, copy / CATALOG_FILE)
    with sqlite3.connect(copy / CATALOG_FILE) as catalog:
        catalog.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'",
                        [str(copy / DATA_DIR) + os.sep])
    return copy


def lake_size(lake: Path) -> tuple[int, int]:
    files = [p for p in (lake / "data").rglob("*.parquet")]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/newslake-bench-lake"))
    parser.add_argument("--reuse", action="store_true", help="time the lake built by an earlier run")
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=300, help="real articles repeated to fill the lake")
    parser.add_argument("--batch", type=int, default=400, help="new real articles ingested at the end")
    parser.add_argument("--chunk-copies", type=int, default=1000, help="copies of the seed per transaction")
    parser.add_argument("--corpus", type=Path, default=BBC)
    parser.add_argument("--ingest-rounds", type=int, default=2, help="alternating ingests into each lake")
    parser.add_argument("--queries-only", action="store_true", help="skip the batch ingest comparison")
    args = parser.parse_args()

    real = distinct_real_files(args.corpus)
    seed_files, batch_files = real[: args.seed], real[args.seed : args.seed + args.batch]
    lake = args.work / "lake"
    if not args.reuse:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        build_lake(args.work, args.articles, seed_files, args.chunk_copies)
    files, size = lake_size(lake)
    print(f"lake {lake}: {files} Parquet files, {size / 2**30:.2f} GiB; load average {os.getloadavg()[0]:.2f}")

    for name, (cold, warm, cpu, rows) in time_queries(lake).items():
        verdict = "OK" if max(cold, warm) < TARGET_SECONDS else "MISSED"
        print(f"  {name:<24} cold {cold:6.3f} s  warm {warm:6.3f} s  warm CPU {cpu:6.3f} s  ({rows} rows)  {verdict}")
    print(f"  load average {os.getloadavg()[0]:.2f}")
    if args.queries_only:
        return

    # The same batch into an empty lake and into the big one (a copy, so --reuse starts clean),
    # alternately, `--ingest-rounds` times each: the medians are compared.
    inbox = write_files(args.work / "batch_inbox", batch_files)
    empty_runs, big_runs = [], []
    for round_no in range(args.ingest_rounds):
        empty = args.work / "lake_empty_ingest"
        shutil.rmtree(empty, ignore_errors=True)
        empty_runs.append(ingest(inbox, empty, args.work / f"prefect_empty_{round_no}"))
        big = copy_lake(lake, args.work / "lake_ingest")
        big_runs.append(ingest(inbox, big, args.work / f"prefect_big_{round_no}"))
        print(f"  round {round_no + 1}: empty lake {empty_runs[-1]:.1f} s, big lake {big_runs[-1]:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
    empty_seconds, big_seconds = statistics.median(empty_runs), statistics.median(big_runs)
    ratio = big_seconds / empty_seconds
    print(f"ingest of {len(batch_files)} new articles (newslake ingest, whole process, median of "
          f"{args.ingest_rounds}): empty lake {empty_seconds:.1f} s, {args.articles:,}-article lake "
          f"{big_seconds:.1f} s: x{ratio:.2f} (target <= x{TARGET_INGEST_RATIO}): "
          f"{'OK' if ratio <= TARGET_INGEST_RATIO else 'MISSED'}")


if __name__ == "__main__":
    main()
