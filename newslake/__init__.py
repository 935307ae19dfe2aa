"""newslake: a local-first news ingestion pipeline into a DuckLake.

For notebooks: `newslake.connect(lake="lake")` gives a DuckDB connection with the lake attached,
where the contract's tables are usable unqualified (`SELECT * FROM articles`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # DuckDB is imported on use, keeping `newslake --help` instant
    import duckdb

__all__ = ["connect"]


def connect(lake: str | Path = "lake", *, read_only: bool = True,
            catalog: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the lake at `lake`, read-only unless asked otherwise. With `catalog`
    (a PostgreSQL libpq URL) the lake's catalog is there and `lake` is its data folder or s3:// URL."""
    from tasks.lake import LakeLocation, open_lake

    return open_lake(LakeLocation(lake, catalog), read_only=read_only)
