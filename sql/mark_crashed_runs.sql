-- Runs still marked running when a new run starts died without finishing (killed, power cut):
-- the caller holds the lake's writer lock, so no other run can be alive. Their finish time is
-- unknown and stays NULL.
UPDATE lake.runs
SET status = 'crashed'
WHERE status = 'running' AND run_id <> $run_id
