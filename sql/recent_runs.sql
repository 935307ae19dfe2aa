-- The most recent runs, newest first: when (local time), how long, what they did, how they ended.
SELECT strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
       round(epoch(finished_at - started_at), 1) AS seconds,
       status, files_seen AS seen, articles_new AS new, duplicates, rejected,
       snapshot_id AS snapshot, run_id
FROM lake.runs
ORDER BY runs.started_at DESC
LIMIT $limit
