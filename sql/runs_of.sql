-- The runs rows of the given run ids (the writers of a fan-out): what each did and how it ended.
SELECT run_id, status, files_seen, articles_new, duplicates, rejected,
       round(epoch(finished_at - started_at), 1) AS seconds
FROM lake.runs
WHERE list_contains($run_ids, run_id)
