-- A run's counts with the batch being committed, written in the batch's own transaction so that
-- `runs` matches what landed even if the run dies before its end is recorded. The snapshot this
-- transaction creates is the one after the current: the caller holds the lake's writer lock.
UPDATE lake.runs
SET files_seen = $files_seen,
    articles_new = $articles_new,
    duplicates = $duplicates,
    rejected = $rejected,
    snapshot_id = (SELECT id + 1 FROM lake.current_snapshot())
WHERE run_id = $run_id
