-- Delete files in the data folder that no snapshot ever referenced (left by a writer that crashed
-- before its commit). Safe only while holding the writer lock: no transaction is writing files.
CALL ducklake_delete_orphaned_files('lake', cleanup_all => true)
