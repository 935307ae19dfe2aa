-- Runs other than this one still marked running: alive elsewhere, or dead without finishing.
SELECT run_id
FROM lake.runs
WHERE status = 'running' AND run_id <> $run_id
