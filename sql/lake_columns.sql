-- Every column of every table in the attached lake: what a writer compares with tasks.schema.
SELECT table_name, column_name
FROM duckdb_columns()
WHERE database_name = 'lake' AND schema_name = 'main';
