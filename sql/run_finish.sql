UPDATE lake.runs
SET finished_at = $finished_at,
    status = $status,
    files_seen = $files_seen,
    articles_new = $articles_new,
    duplicates = $duplicates,
    rejected = $rejected,
    snapshot_id = $snapshot_id
WHERE run_id = $run_id
