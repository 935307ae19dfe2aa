"""A PostgreSQL cluster the project starts itself: the catalog and claims server of the multi-writer mode.

A cluster lives in a folder (`make postgres` uses `./.pg`): `data/` is the cluster itself, `server.log`
its log. It listens on 127.0.0.1 only, on TCP only (no Unix socket), and trusts local connections:
it is a development and test server, not one to expose. The PostgreSQL binaries (`initdb`,
`pg_ctl`, `postgres`) come from the machine: on PATH, or under /usr/lib/postgresql/<version>/bin.
PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` OS user
and owns the folder.

    python -m newslake.postgres start --dir .pg      # safe to repeat; prints the lake database's URL
    python -m newslake.postgres stop --dir .pg
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import typer

SUPERUSER = "postgres"
SERVICE_USER = "postgres"  # the OS user the server runs as when we are root
DEFAULT_DATABASE = "newslake"
HOST = "127.0.0.1"
DATA_DIR = "data"
LOG_FILE = "server.log"
START_TIMEOUT_SECONDS = 60
# Several writers each keep a few catalog connections, and the claims keep one each.
MAX_CONNECTIONS = 300


class PostgresUnavailable(Exception):
    """The PostgreSQL server binaries are not installed on this machine."""


class PostgresError(Exception):
    """A PostgreSQL command failed; the message carries its output."""


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres (the server binary is often not on PATH)."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH "
                              "or under /usr/lib/postgresql/*/bin")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def libpq_url(port: int, database: str = DEFAULT_DATABASE) -> str:
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/{database}"


@dataclass(frozen=True)
class PostgresCluster:
    """A cluster in `folder` (created by `init`), run by `start` and `stop`."""

    folder: Path
    bindir: Path

    @classmethod
    def at(cls, folder: Path | str) -> PostgresCluster:
        return cls(folder=Path(folder).resolve(), bindir=find_bindir())

    @property
    def data_dir(self) -> Path:
        return self.folder / DATA_DIR

    def _run(self, *args: str) -> str:
        user = SERVICE_USER if os.geteuid() == 0 else None
        result = subprocess.run([str(self.bindir / args[0]), *args[1:]], user=user, cwd=self.folder,
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise PostgresError(f"{args[0]} failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self, port: int | None = None) -> None:
        """Create the cluster (listening on `port`, or a free one) unless it exists."""
        if self.initialized():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            service = pwd.getpwnam(SERVICE_USER)
            os.chown(self.folder, service.pw_uid, service.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--no-instructions")
        settings = {"listen_addresses": f"'{HOST}'", "port": str(port or free_port()),
                    "unix_socket_directories": "''", "max_connections": str(MAX_CONNECTIONS)}
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# newslake: local TCP only\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    @property
    def port(self) -> int:
        """The port in the cluster's configuration."""
        return int(self._run("postgres", "-D", str(self.data_dir), "-C", "port").strip())

    @property
    def postmaster_pid(self) -> int:
        """The running server's main process, the parent of every backend (postmaster.pid's first line)."""
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def running(self) -> bool:
        user = SERVICE_USER if os.geteuid() == 0 else None
        status = subprocess.run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.data_dir)], user=user,
                                capture_output=True, stdin=subprocess.DEVNULL)
        return status.returncode == 0

    def start(self) -> None:
        """Start the server unless it runs already; returns once it accepts connections."""
        if self.running():
            return
        self._run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-D", str(self.data_dir),
                  "-l", str(self.folder / LOG_FILE))

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended) if it runs."""
        if self.initialized() and self.running():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))

    def create_database(self, name: str = DEFAULT_DATABASE) -> str:
        """Create database `name` unless it exists; return its libpq URL."""
        import psycopg
        from psycopg import sql as pgsql

        with psycopg.connect(libpq_url(self.port, "postgres"), autocommit=True) as con:
            exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                con.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
        return libpq_url(self.port, name)

    def up(self, port: int | None = None, database: str = DEFAULT_DATABASE) -> str:
        """Create, start and give a database to the cluster, each step only if needed; its URL."""
        self.init(port)
        self.start()
        return self.create_database(database)


cli = typer.Typer(add_completion=False, no_args_is_help=True, help="The project's own PostgreSQL server.")
FolderOption = typer.Option(Path(".pg"), "--dir", help="Folder of the cluster.")


@cli.command()
def start(folder: Path = FolderOption,
          port: int = typer.Option(0, help="Port for a new cluster (0: a free one); a cluster keeps its first."),
          database: str = typer.Option(DEFAULT_DATABASE, help="Database to create for the lake.")) -> None:
    """Create the cluster if missing, start it if stopped, create the database if missing; print its URL.

    Example: python -m newslake.postgres start --dir .pg
    """
    try:
        typer.echo(PostgresCluster.at(folder).up(port or None, database))
    except (PostgresUnavailable, PostgresError) as exc:
        typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None


@cli.command()
def stop(folder: Path = FolderOption) -> None:
    """Stop the cluster if it runs.

    Example: python -m newslake.postgres stop --dir .pg
    """
    try:
        PostgresCluster.at(folder).stop()
    except (PostgresUnavailable, PostgresError) as exc:
        typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    cli()
