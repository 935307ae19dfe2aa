-- Merge the small Parquet files that one-batch-per-commit leaves behind into larger ones, per table.
CALL ducklake_merge_adjacent_files('lake')
