-- Runs still marked running that are known to have died without finishing (killed, power cut):
-- `dead_runs`, decided by the caller (tasks.run_history.record_run_start). Their finish time is
-- unknown and stays NULL.
UPDATE lake.runs
SET status = 'crashed'
WHERE status = 'running' AND run_id IN (SELECT run_id FROM dead_runs)
