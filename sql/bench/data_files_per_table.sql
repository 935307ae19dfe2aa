-- Live data files of each lake table (bench/dedup_cost.py reports the layout it measured).
SELECT t.table_name, count(*) AS data_files
FROM __ducklake_metadata_lake.ducklake_data_file AS f
JOIN __ducklake_metadata_lake.ducklake_table AS t USING (table_id)
WHERE f.end_snapshot IS NULL AND t.end_snapshot IS NULL
GROUP BY t.table_name
