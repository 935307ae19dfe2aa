-- Delete the data files scheduled for deletion (replaced by compaction, or only referenced by expired
-- snapshots) before the retention cutoff; newer ones stay, as snapshots still within reach need them.
CALL ducklake_cleanup_old_files('lake', older_than => $cutoff)
