-- Rewrite data files that carry many deleted rows (the `runs` rows are updated when a run ends).
CALL ducklake_rewrite_data_files('lake')
