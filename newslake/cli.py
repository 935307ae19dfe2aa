"""The `newslake` command line: a thin layer over flows/ and tasks/.

Heavy imports (Prefect, spaCy, DuckDB) happen inside the commands, so `newslake --help` is instant.
"""

from __future__ import annotations

import atexit
import csv
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from enum import Enum
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TextIO

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Local-first news ingestion into a DuckLake.")


def main() -> None:
    """The `newslake` console script: runs the command, and once every exit hook has run (Prefect's
    log and event flush, the Prefect server's stop, the NER workers' close), ends the process
    without tearing the interpreter down: freeing Prefect's, spaCy's and DuckDB's objects one by one
    takes a quarter of a second that nobody waits for on purpose."""
    from newslake.environment import relax_cyclic_gc

    relax_cyclic_gc()
    outcome: dict[str, object] = {}

    def end_process() -> None:  # registered first, so it runs after every other exit hook
        if "code" not in outcome:  # an exception escaped: Python reports it and exits as usual
            return
        logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe (`newslake sql ... | head`)
            pass
        os._exit(outcome["code"])

    atexit.register(end_process)
    try:
        app()
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            outcome["code"] = exit_.code or 0
        raise

SeedsOption = typer.Option(Path("seeds"), "--seeds", envvar="NEWSLAKE_SEEDS", help="Inbox folder of raw article files.")
LakeOption = typer.Option(Path("lake"), "--lake", envvar="NEWSLAKE_LAKE", help="DuckLake folder.")
# The commands that take --catalog: the lake's data may then be in object storage, an s3:// URL.
SharedLakeOption = typer.Option("lake", "--lake", envvar="NEWSLAKE_LAKE",
                                help="DuckLake folder; with --catalog its data folder, or an s3://bucket/prefix URL.")
CatalogOption = typer.Option(None, "--catalog", envvar="NEWSLAKE_CATALOG",
                             help="PostgreSQL catalog (libpq URL) of a lake shared by several writers; "
                                  "--lake is then its data folder or s3:// URL.")

NerProcessesOption = typer.Option(None, "--ner-processes", min=1,
                                  help="NER worker processes (default: one per CPU, at most 2).")
POSTGRES_HINT = "Is PostgreSQL running? `make postgres` starts the project's own and prints its URL."


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def fail(title: str, suggestion: str | None = None) -> None:
    """One clear error on stderr and a non-zero exit, never a traceback."""
    typer.secho(f"Error: {title}", err=True, fg=typer.colors.RED)
    if suggestion:
        typer.echo(suggestion, err=True)
    raise typer.Exit(1)


def fail_on_lake(location, error) -> None:
    """One clear error for a lake that failed in a way retrying later may mend (a tasks.lake
    TransientLakeError, after the flow's own retries). A TerminalLakeError (a bad query, a broken
    lake) keeps its traceback: it is a bug to report."""
    fail(f"the lake at {location.folder} {error.failure}: {error}", error.hint)


@app.command()
def ingest(seeds: Path = SeedsOption, lake: str = SharedLakeOption, catalog: str | None = CatalogOption,
           batch_size: int = typer.Option(400, min=1, help="Records per batch (one lake transaction each)."),
           ner_processes: int | None = NerProcessesOption) -> None:
    """Ingest new and changed files from the inbox into the lake, once.

    With --catalog, several of these (on one machine or many) split the inbox between them: each
    claims batches of files until none is left, then exits.

    Example: newslake ingest --seeds ./seeds --lake ./lake
    """
    if not seeds.is_dir():
        fail(f"inbox folder {seeds} does not exist", "Create it or pass --seeds DIR.")
    # First thing, before the heavy imports: writers started together count each other when they
    # first claim, a second later.
    with announce_writer(catalog) if catalog is not None else nullcontext() as claims_con:
        _ingest_once(seeds.resolve(), lake_location(lake, catalog), catalog, claims_con, batch_size, ner_processes)


@contextmanager
def announce_writer(catalog: str) -> Iterator:
    """A session on the catalog's PostgreSQL in which this process counts among the writers at work
    (tasks.claims.announce) until it ends; one clear error when the server is unreachable."""
    from tasks import claims
    from tasks.catalog import CatalogUnreachable

    try:
        con = claims.connect(catalog)
    except CatalogUnreachable as exc:
        fail(str(exc), POSTGRES_HINT)
    with con:
        claims.announce(con, claims.Holder.this_process("read-ahead"))
        yield con


def _ingest_once(seeds: Path, location, catalog: str | None, claims_con, batch_size: int,
                 ner_processes: int | None) -> None:
    """`newslake ingest` once its arguments are checked (and, with a catalog, the writer announced)."""
    from newslake.environment import use_project_prefect_home, without_flow_heartbeats
    from newslake.prefect_server import start_temporary_server
    from tasks.catalog import CatalogUnreachable
    from tasks.lake import TransientLakeError

    use_project_prefect_home()
    server = start_temporary_server()  # boots (seconds) while the inbox is scanned and the flow imported
    try:
        unchanged_run, ner = discover_and_read_ahead(seeds, location, batch_size, ner_processes, claims_con)
    except (CatalogUnreachable, TransientLakeError) as exc:
        if server is not None:
            server.abandon()
        if isinstance(exc, CatalogUnreachable):
            fail(str(exc), POSTGRES_HINT)
        fail_on_lake(location, exc)
    if unchanged_run is not None:
        # A directory scan and one runs row: no flow run, no NER, the server killed unused.
        if server is not None:
            server.abandon()
        typer.echo(f"newslake ingest: nothing new in {seeds}")
        print_summary(unchanged_run)
        return
    with ner:
        from flows.ingest import IngestSettings
        from flows.ingest import ingest as ingest_flow

        settings = IngestSettings(seeds=seeds, lake=location.folder, catalog=catalog, batch_size=batch_size)
        if server is not None:
            server.wait_until_healthy()
        with without_flow_heartbeats(), progress_bar():
            try:
                summary = ingest_flow(settings, ner=ner)
            except TransientLakeError as exc:  # the run is recorded as failed, in the lake and in Prefect
                fail_on_lake(location, exc)
    print_summary(summary)


def discover_and_read_ahead(seeds: Path, location, batch_size: int, ner_processes: int | None, claims_con):
    """Before the flow, with no Prefect import: (the run recorded, None) when the lake at `location`
    (a tasks.lake.LakeLocation) has seen every file in `seeds` as it is now; else (None, a NerPool
    the caller owns). The pool's workers load the model meanwhile, and the pool holds the first
    batch's bodies already (tasks.read_ahead; a writer sharing the inbox claims that batch now, on
    `claims_con`, announce_writer's session; None without a catalog), so NER starts while Prefect
    is imported and its server boots. The discovery is the flow's own (tasks.discover: one walk of
    the inbox, one query of the lake's `files` table)."""
    from tasks.discover import discover
    from tasks.lake import open_lake
    from tasks.ner import NerPool
    from tasks.read_ahead import first_batch_bodies, first_claim_bodies
    from tasks.run_history import no_other_run_alive, record_unchanged_run
    from tasks.writer_lock import DEFAULT_TIMEOUT_SECONDS, writer_lock

    exists = location.exists()  # first: an unreachable catalog is CatalogUnreachable, said plainly
    with ExitStack() as held:
        if location.catalog is None:
            held.enter_context(writer_lock(location.folder, DEFAULT_TIMEOUT_SECONDS))
            alive = no_other_run_alive
        else:  # writers sharing a catalog take no writer lock; they split the inbox by claims
            from tasks import claims

            alive = partial(claims.alive_runs, claims_con)
        con = open_lake(location) if exists else None
        if con is not None:
            held.callback(con.close)
        discovery = discover(con, seeds)
        if con is not None and discovery.nothing_new:
            return record_unchanged_run(con, discovery.scan.seen, alive), None
        ner = NerPool(ner_processes)
        try:
            ner.submit_ahead(first_batch_bodies(con, seeds, discovery, batch_size) if claims_con is None
                             else first_claim_bodies(con, claims_con, seeds, discovery, batch_size))
        except BaseException:
            ner.close()
            raise
        return None, ner


def print_summary(summary) -> None:
    from rich.console import Console

    console = Console()
    console.print(f"[bold]newslake ingest[/bold] run {summary.run_id}: {summary.status} in {summary.seconds:.1f}s")
    console.print(f"  files seen        {summary.files_seen} ({summary.files_unchanged} unchanged, skipped)")
    console.print(f"  new articles      {summary.articles_new}")
    methods = ", ".join(f"{n} {m}" for m, n in sorted(summary.duplicates_by_method.items()))
    console.print(f"  duplicates        {summary.duplicates}" + (f" ({methods})" if methods else ""))
    console.print(f"  rejected          {summary.rejected}")
    for reason, count in summary.rejected_by_reason.most_common():
        console.print(f"    {count:>5}  {reason}", highlight=False)
    if summary.snapshot_id is not None:
        console.print(f"  lake snapshot     {summary.snapshot_id}")


def lake_location(lake: str, catalog: str | None):
    """The tasks.lake.LakeLocation of --lake and --catalog, or one clear error for an s3:// lake
    without a catalog."""
    from tasks.lake import LakeLocation, ObjectStoreNeedsCatalog

    try:
        return LakeLocation(lake, catalog)
    except ObjectStoreNeedsCatalog as exc:
        fail(str(exc), "`make postgres` starts one and prints its URL; a --lake folder keeps a catalog of its own.")


def open_lake_for_reading(lake: str, catalog: str | None):
    """The lake opened read-only, or one clear error when there is none or its catalog is unreachable."""
    from tasks.catalog import CatalogUnreachable
    from tasks.lake import LakeNotFound, open_lake

    location = lake_location(lake, catalog)
    try:
        return open_lake(location, read_only=True)
    except LakeNotFound as exc:
        fail(str(exc))
    except CatalogUnreachable as exc:
        fail(str(exc), POSTGRES_HINT)


@app.command(name="sql")
def run_sql(query: str | None = typer.Argument(None, help="SQL to run; contract tables work unqualified. "
                                                         "Read from stdin when omitted."),
            lake: str = SharedLakeOption, catalog: str | None = CatalogOption,
            format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
            output: Path | None = typer.Option(None, "--output", "-o",
                                               help="Write the result to this file (parquet needs one)."),
            max_rows: int = typer.Option(1000, min=1,
                                         help="Rows the table format shows (csv, json, parquet: all).")) -> None:
    """Run a read-only SQL query against the lake and print the result, streamed: a result larger
    than memory still works in csv, json and parquet. With no query, the SQL is read from stdin.

    Example: newslake sql --format json "SELECT title, published_at FROM articles LIMIT 5"
    """
    import duckdb

    if query is None:
        query = "" if sys.stdin.isatty() else sys.stdin.read()
    if not query.strip():
        fail("no query", "Pass SQL as an argument, or on stdin: newslake sql < sql/examples/co_mentions.sql")
    if format is OutputFormat.parquet and output is None:
        fail("--format parquet writes a file", "Add --output FILE, e.g. --format parquet --output result.parquet")
    con = open_lake_for_reading(lake, catalog)
    try:
        write_result(con.execute(query), format, output, max_rows)
    except duckdb.Error as exc:
        message = str(exc)
        hint = ("newslake sql opens the lake read-only; the lake is written only by `newslake ingest`."
                if "read-only" in message else "Check the query; `SHOW TABLES` lists what you can query.")
        fail(message, hint)
    finally:
        con.close()


FETCH_ROWS = 10_000  # rows (or rows per Arrow batch) fetched at a time when streaming a result


def write_result(cursor, format: OutputFormat, output: Path | None, max_rows: int | None = None) -> None:
    """Write a query's result, fetched a slice at a time, to `output` (or stdout). A file is
    written under a temporary name and renamed when complete: a failed query leaves none."""
    if output is None:
        write_rows(result_columns(cursor), result_rows(cursor), format, sys.stdout, max_rows)
        return
    partial = output.with_name(output.name + ".part")
    try:
        if format is OutputFormat.parquet:
            import pyarrow.parquet as pq

            reader = cursor.to_arrow_reader(FETCH_ROWS)
            with pq.ParquetWriter(partial, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
        else:
            with partial.open("w", encoding="utf-8", newline="") as out:
                write_rows(result_columns(cursor), result_rows(cursor), format, out, max_rows)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def result_columns(cursor) -> list[str]:
    return [d[0] for d in cursor.description] if cursor.description else []


def result_rows(cursor) -> Iterator[tuple]:
    if not cursor.description:  # a statement without a result
        return
    while chunk := cursor.fetchmany(FETCH_ROWS):
        yield from chunk


def write_rows(columns: list[str], rows: Iterable[tuple], format: OutputFormat, out: TextIO | None = None,
               max_rows: int | None = None) -> None:
    """Rows as json (one array), csv or a table (at most `max_rows` of them), written as they come."""
    out = out or sys.stdout
    if format is OutputFormat.json:
        out.write("[")
        for number, row in enumerate(rows):
            out.write((", " if number else "") + json.dumps(dict(zip(columns, row)), default=str, ensure_ascii=False))
        out.write("]\n")
    elif format is OutputFormat.csv:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        shown = list(rows if max_rows is None else islice(rows, max_rows + 1))
        more = max_rows is not None and len(shown) > max_rows
        table = Table(*columns, show_lines=False)
        for row in shown[:max_rows]:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(file=out).print(table)
        out.write(f"(first {max_rows} rows; --max-rows shows more, --format csv, json or parquet writes all)\n"
                  if more else f"({len(shown)} rows)\n")


@app.command()
def watch(seeds: Path = SeedsOption, lake: str = SharedLakeOption, catalog: str | None = CatalogOption,
          settle_seconds: float = typer.Option(0.5, min=0, help="A file unchanged this long (and not open for writing) is complete."),
          rescan_seconds: float = typer.Option(180.0, min=1, help="Full rescan interval, events or not."),
          batch_size: int = typer.Option(400, min=1, help="Records per batch (one lake transaction each)."),
          ner_processes: int | None = NerProcessesOption) -> None:
    """Watch the inbox and ingest files seconds after they land, until Ctrl-C or SIGTERM.

    Works without a Prefect server: each run is a Prefect flow run in this process.

    Example: newslake watch --seeds ./seeds --lake ./lake
    """
    if not seeds.is_dir():
        fail(f"inbox folder {seeds} does not exist", "Create it or pass --seeds DIR.")
    location = lake_location(lake, catalog)
    import logging

    from newslake.environment import use_project_prefect_home
    from newslake.prefect_server import start_temporary_server

    use_project_prefect_home()
    server = start_temporary_server()
    from tasks.ner import NerPool

    with NerPool(ner_processes) as ner:  # the model loads while the server boots
        from newslake.watch import WatchSettings, watch_inbox

        # Prefect has configured the root logger by now; newslake's own lines (the watcher's, the NER
        # pool's) get a handler of their own.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s",
                                               datefmt="%H:%M:%S"))
        newslake_logger = logging.getLogger("newslake")
        newslake_logger.addHandler(handler)
        newslake_logger.setLevel(logging.INFO)
        newslake_logger.propagate = False
        typer.echo(f"watching {seeds.resolve()} -> {location.folder} (Ctrl-C to stop)", err=True)
        if server is not None:
            server.wait_until_healthy()
        watch_inbox(WatchSettings(seeds=seeds.resolve(), lake=location.folder, catalog=catalog,
                                  settle_seconds=settle_seconds, rescan_seconds=rescan_seconds,
                                  batch_size=batch_size), ner)


@app.command()
def runs(lake: str = SharedLakeOption, catalog: str | None = CatalogOption,
         limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs, newest first."),
         format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
         output: Path | None = typer.Option(None, "--output", "-o",
                                            help="Write the runs to this file (parquet needs one).")) -> None:
    """List recent ingest runs from the lake: when (local time), how long, counts, status. The
    table fits 80 columns, with run ids shortened as git shortens hashes; json, csv and parquet
    carry the whole id too.

    Example: newslake runs --lake ./lake --limit 10
    """
    import duckdb

    import sql

    if format is OutputFormat.parquet and output is None:
        fail("--format parquet writes a file", "Add --output FILE, e.g. --format parquet --output runs.parquet")
    con = open_lake_for_reading(lake, catalog)
    try:
        cursor = con.execute(sql.load("recent_runs"), {"limit": limit})
        if format is OutputFormat.table and output is None:
            print_runs_table(result_columns(cursor), cursor.fetchall())
        else:
            write_result(cursor, format, output)
    except duckdb.Error as exc:
        fail(str(exc), "The lake may be from an older newslake; `newslake sql \"DESCRIBE runs\"` shows its columns.")
    finally:
        con.close()


RUNS_TABLE_HEADERS = {"seconds": "secs", "duplicates": "dup", "rejected": "rej", "snapshot": "snap"}


def print_runs_table(columns: list[str], rows: list[tuple]) -> None:
    """The runs as a table for an 80-column terminal: short headers, no borders, one space between
    columns, the short id only."""
    from rich.console import Console
    from rich.table import Table

    shown = [i for i, name in enumerate(columns) if name != "run_id"]
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for i in shown:
        numeric = any(isinstance(row[i], (int, float)) for row in rows)
        table.add_column(RUNS_TABLE_HEADERS.get(columns[i], columns[i]), justify="right" if numeric else "left",
                         no_wrap=True)
    for row in rows:
        table.add_row(*("" if row[i] is None else str(row[i]) for i in shown))
    Console().print(table)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shell(ctx: typer.Context, lake: Path = LakeOption,
          command: str | None = typer.Option(None, "--command", "-c",
                                             help="Run this one statement and exit, as `duckdb -c` does.")) -> None:
    """Open the DuckDB shell on the lake, read-only, its tables unqualified: history, completion,
    .mode, .timer, EXPLAIN ANALYZE. Options for the shell itself go after `--` (`-- -csv`).

    Example: newslake shell --lake ./lake -c "SELECT count(*) FROM articles"
    """
    from newslake.shell import ProgramMissing, run_shell
    from tasks.lake import LakeNotFound

    try:
        status = run_shell(lake, command, ctx.args)
    except LakeNotFound as exc:
        fail(str(exc))
    except ProgramMissing as exc:
        fail(str(exc), "Reinstall newslake (`make install`), which brings it.")
    raise typer.Exit(status)


@app.command()
def ide(lake: Path = LakeOption) -> None:
    """Open Harlequin, the terminal SQL IDE, on the lake, read-only: catalog tree, query editor,
    results grid, query history. Needs the extra: pip install 'newslake[ide]'.

    Example: newslake ide --lake ./lake
    """
    from newslake.shell import ProgramMissing, run_ide
    from tasks.lake import LakeNotFound

    try:
        status = run_ide(lake)
    except (LakeNotFound, ProgramMissing) as exc:
        fail(str(exc))
    raise typer.Exit(status)


@app.command()
def maintain(lake: str = SharedLakeOption, catalog: str | None = CatalogOption,
             retention_days: float = typer.Option(7.0, min=0, help="Keep snapshots (time travel) this many days back.")) -> None:
    """Compact the lake: merge small files, expire old snapshots, delete unreferenced files. No row is lost.

    Example: newslake maintain --lake ./lake --retention-days 7
    """
    from tasks.catalog import CatalogUnreachable

    location = lake_location(lake, catalog)
    try:
        found = location.exists()
    except CatalogUnreachable as exc:
        fail(str(exc), POSTGRES_HINT)
    if not found:
        fail(f"no lake at {location.describe()}", "Pass --lake DIR, or run `newslake ingest` first.")
    from newslake.environment import use_project_prefect_home
    from newslake.prefect_server import start_temporary_server

    use_project_prefect_home()
    # newslake's own server, as ingest and watch start theirs: Prefect's ephemeral one would replay
    # every migration on a new Prefect home, and its start-up timeout runs out on a busy machine.
    server = start_temporary_server()
    from flows.maintenance import MaintenanceSettings, maintenance

    if server is not None:
        server.wait_until_healthy()
    report = maintenance(MaintenanceSettings(lake=location.folder, catalog=catalog, retention_days=retention_days))
    write_rows(["measure", "before", "after"], [tuple(row.values()) for row in report.rows()], OutputFormat.table)


@contextmanager
def progress_bar(show_after_seconds: float = 2.0) -> Iterator[None]:
    """A progress bar fed by the run's progress reports (tasks.progress), on a terminal only, and
    only once the run has taken `show_after_seconds`: short runs print just their summary."""
    if not sys.stdout.isatty():
        yield
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from tasks.progress import listening

    bar = Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                   TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
    bar_task = bar.add_task("ingest", total=None)

    def on_progress(done: int, total: int) -> None:
        bar.update(bar_task, completed=done, total=total)

    timer = threading.Timer(show_after_seconds, bar.start)
    timer.daemon = True
    timer.start()
    try:
        with listening(on_progress):
            yield
    finally:
        timer.cancel()
        bar.stop()
