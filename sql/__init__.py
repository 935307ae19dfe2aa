"""DuckDB SQL for newslake, kept in .sql files beside this module and loaded by name."""

from functools import cache
from importlib.resources import files


@cache
def load(name: str) -> str:
    """The text of `sql/<name>.sql` (e.g. `load("run_start")`, `load("examples/top_people")`)."""
    return files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
