-- A run is recorded before it does anything, so one that never finishes still shows (as "running").
INSERT INTO lake.runs (run_id, flow, started_at, status, files_seen, articles_new, duplicates, rejected)
VALUES ($run_id, $flow, $started_at, 'running', 0, 0, 0, 0)
