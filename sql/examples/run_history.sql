/* The 20 most recent ingest runs: when, how long, how they ended, what they found, and their
   throughput in new articles per second.
   Run: newslake sql "$(cat sql/examples/run_history.sql)" */
SELECT started_at,
       round(epoch(finished_at - started_at), 1) AS seconds,
       status,
       files_seen,
       articles_new,
       duplicates,
       rejected,
       round(articles_new / nullif(epoch(finished_at - started_at), 0), 1) AS articles_per_second,
       snapshot_id,
       run_id
FROM runs
ORDER BY started_at DESC
LIMIT 20
