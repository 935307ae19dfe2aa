-- The views of the attached lake: what a writer compares with sql/identity_views.sql.
SELECT view_name
FROM duckdb_views()
WHERE database_name = 'lake' AND schema_name = 'main';
