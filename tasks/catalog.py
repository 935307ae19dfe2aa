"""The PostgreSQL server of a shared lake's catalog, as newslake's own code reaches it: DuckLake's catalog
tables, the claims and the writers' locks all live in its database.

Light on purpose (psycopg is imported on first use): `newslake ingest` opens its claims session
before its heavy imports.
"""

from __future__ import annotations


class CatalogUnreachable(Exception):
    """The lake's PostgreSQL catalog did not accept a connection."""


def connect_catalog(url: str):
    """An autocommit psycopg connection to the catalog's database; the caller closes it. A server
    that does not answer is CatalogUnreachable."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise CatalogUnreachable(f"cannot connect to the catalog {url}: {str(exc).strip()}") from exc
