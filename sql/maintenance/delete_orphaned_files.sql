-- Delete files in the data folder that no snapshot ever referenced (left by a writer that crashed
-- before its commit), if older than $orphans_before: a transaction still open has files younger than
-- that (see tasks/maintenance.py).
CALL ducklake_delete_orphaned_files('lake', older_than => $orphans_before)
