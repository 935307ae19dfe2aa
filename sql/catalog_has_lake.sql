-- PostgreSQL, on a lake's catalog database: whether DuckLake has created its metadata there.
SELECT to_regclass('ducklake_metadata') IS NOT NULL
