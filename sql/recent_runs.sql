-- The most recent runs, newest first: when (local time: the session's time zone), how long, what
-- they did, how they ended. `run` is the run id shortened as git shortens hashes: 7 characters,
-- or as many more as it takes for no two runs of the lake to share one.
WITH id_length AS (
    SELECT coalesce(min(length), 64) AS length
    FROM range(7, 64) AS lengths(length)
    WHERE (SELECT count(DISTINCT left(run_id, length)) FROM lake.runs)
          = (SELECT count(DISTINCT run_id) FROM lake.runs)
)
SELECT left(run_id, id_length.length) AS run,
       strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
       round(epoch(finished_at - started_at), 1) AS seconds,
       status, files_seen AS seen, articles_new AS new, duplicates, rejected,
       snapshot_id AS snapshot, run_id
FROM lake.runs, id_length
ORDER BY runs.started_at DESC
LIMIT $limit
