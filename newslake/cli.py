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
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

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


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def fail(title: str, suggestion: str | None = None) -> None:
    """One clear error on stderr and a non-zero exit, never a traceback."""
    typer.secho(f"Error: {title}", err=True, fg=typer.colors.RED)
    if suggestion:
        typer.echo(suggestion, err=True)
    raise typer.Exit(1)


@app.command()
def ingest(seeds: Path = SeedsOption, lake: Path = LakeOption,
           batch_size: int = typer.Option(400, min=1, help="Files per batch (one lake transaction each).")) -> None:
    """Ingest new and changed files from the inbox into the lake, once.

    Example: newslake ingest --seeds ./seeds --lake ./lake
    """
    if not seeds.is_dir():
        fail(f"inbox folder {seeds} does not exist", "Create it or pass --seeds DIR.")
    from newslake.environment import use_project_prefect_home
    from newslake.prefect_server import reserve_temporary_server

    use_project_prefect_home()
    server = reserve_temporary_server()  # before Prefect is imported
    if server is not None:
        server.start()  # boots (seconds) while the inbox is scanned and the flow imported
    seeds, lake = seeds.resolve(), lake.resolve()
    unchanged_run = record_run_if_unchanged(seeds, lake)
    if unchanged_run is not None:
        # A directory scan and one runs row: no flow run, no NER, the server killed unused.
        if server is not None:
            server.abandon()
        typer.echo(f"newslake ingest: nothing new in {seeds}")
        print_summary(unchanged_run)
        return
    from tasks.ner import NerPool

    # The workers load the model (at low priority) while the server boots and Prefect is imported.
    with NerPool() as ner:
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        from flows.ingest import IngestSettings, ingest as ingest_flow

        settings = IngestSettings(seeds=seeds, lake=lake, batch_size=batch_size)
        if server is not None:
            server.wait_until_healthy()
        # Heartbeats spot crashed runs of deployments; a CLI run does not need them, and stopping
        # their thread adds up to a second to the end of the run.
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), progress_bar():
            summary = ingest_flow(settings, ner=ner)
    print_summary(summary)


def record_run_if_unchanged(seeds: Path, lake: Path):
    """When the lake has seen every file in `seeds` as it is now, record that run (a RunSummary)
    and return it; None when there is anything to do (or no lake yet). The discovery the flow runs
    too (one walk of the inbox, one query of the lake's `files` table), and no Prefect import."""
    from tasks.discover import discover
    from tasks.lake import CATALOG_FILE, open_lake
    from tasks.run_history import record_unchanged_run
    from tasks.writer_lock import DEFAULT_TIMEOUT_SECONDS, writer_lock

    if not (lake / CATALOG_FILE).exists():
        return None
    with writer_lock(lake, DEFAULT_TIMEOUT_SECONDS):
        con = open_lake(lake)
        try:
            discovery = discover(con, seeds)
            return record_unchanged_run(con, discovery.scan.seen) if discovery.nothing_new else None
        finally:
            con.close()


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


@app.command(name="sql")
def run_sql(query: str = typer.Argument(..., help="SQL to run; contract tables work unqualified."),
            lake: Path = LakeOption,
            format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format.")) -> None:
    """Run a read-only SQL query against the lake and print the result.

    Example: newslake sql --format json "SELECT title, published_at FROM articles LIMIT 5"
    """
    import duckdb

    from tasks.lake import LakeNotFound, open_lake

    try:
        con = open_lake(lake, read_only=True)
    except LakeNotFound as exc:
        fail(str(exc))
    try:
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        rows = cursor.fetchall() if columns else []
    except duckdb.Error as exc:
        message = str(exc)
        hint = ("newslake sql opens the lake read-only; the lake is written only by `newslake ingest`."
                if "read-only" in message else "Check the query; `SHOW TABLES` lists what you can query.")
        fail(message, hint)
    finally:
        con.close()
    write_rows(columns, rows, format)


def write_rows(columns: list[str], rows: list[tuple], format: OutputFormat) -> None:
    if format is OutputFormat.json:
        json.dump([dict(zip(columns, row)) for row in rows], sys.stdout, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    elif format is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)
        typer.echo(f"({len(rows)} rows)")


@app.command()
def watch(seeds: Path = SeedsOption, lake: Path = LakeOption,
          settle_seconds: float = typer.Option(0.5, min=0, help="A file unchanged this long (and not open for writing) is complete."),
          rescan_seconds: float = typer.Option(180.0, min=1, help="Full rescan interval, events or not."),
          batch_size: int = typer.Option(400, min=1, help="Files per batch (one lake transaction each).")) -> None:
    """Watch the inbox and ingest files seconds after they land, until Ctrl-C or SIGTERM.

    Works without a Prefect server: each run is a Prefect flow run in this process.

    Example: newslake watch --seeds ./seeds --lake ./lake
    """
    if not seeds.is_dir():
        fail(f"inbox folder {seeds} does not exist", "Create it or pass --seeds DIR.")
    import logging

    from newslake.environment import use_project_prefect_home
    from newslake.prefect_server import reserve_temporary_server

    use_project_prefect_home()
    server = reserve_temporary_server()  # before Prefect is imported
    if server is not None:
        server.start()
    from tasks.ner import NerPool

    with NerPool() as ner:  # the model loads while the server boots
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
        typer.echo(f"watching {seeds.resolve()} -> {lake.resolve()} (Ctrl-C to stop)", err=True)
        if server is not None:
            server.wait_until_healthy()
        watch_inbox(WatchSettings(seeds=seeds.resolve(), lake=lake.resolve(), settle_seconds=settle_seconds,
                                  rescan_seconds=rescan_seconds, batch_size=batch_size), ner)


@app.command()
def runs(lake: Path = LakeOption,
         limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs, newest first."),
         format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format.")) -> None:
    """List recent ingest runs from the lake: when, how long, counts, status.

    Example: newslake runs --lake ./lake --limit 10
    """
    import duckdb

    import sql
    from tasks.lake import LakeNotFound, open_lake

    try:
        con = open_lake(lake, read_only=True)
    except LakeNotFound as exc:
        fail(str(exc))
    try:
        cursor = con.execute(sql.load("recent_runs"), {"limit": limit})
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        fail(str(exc), "The lake may be from an older newslake; `newslake sql \"DESCRIBE runs\"` shows its columns.")
    finally:
        con.close()
    write_rows(columns, rows, format)


@app.command()
def maintain(lake: Path = LakeOption,
             retention_days: float = typer.Option(7.0, min=0, help="Keep snapshots (time travel) this many days back.")) -> None:
    """Compact the lake: merge small files, expire old snapshots, delete unreferenced files. No row is lost.

    Example: newslake maintain --lake ./lake --retention-days 7
    """
    if not (lake / "catalog.sqlite").exists():
        fail(f"no lake at {lake.resolve()}", "Pass --lake DIR, or run `newslake ingest` first.")
    from newslake.environment import use_project_prefect_home

    use_project_prefect_home()
    from flows.maintenance import MaintenanceSettings, maintenance

    report = maintenance(MaintenanceSettings(lake=lake.resolve(), retention_days=retention_days))
    write_rows(["measure", "before", "after"], [tuple(row.values()) for row in report.rows()], OutputFormat.table)


@contextmanager
def progress_bar(show_after_seconds: float = 2.0) -> Iterator[None]:
    """A progress bar fed by the run's progress reports (tasks.progress), on a terminal only, and
    only once the run has taken `show_after_seconds`: short runs print just their summary."""
    if not sys.stdout.isatty():
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
