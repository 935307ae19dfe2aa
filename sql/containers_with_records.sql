-- Which of a run's candidate files (`candidate_paths`: path) already have record rows in the lake
-- (paths `<container>#<n>`): only those need their records looked up (known_records_of_container).
SELECT DISTINCT regexp_extract(f.path, '^(.*)#[0-9]+$', 1) AS container
FROM lake.files AS f
WHERE f.path LIKE '%#%'
  AND regexp_extract(f.path, '^(.*)#[0-9]+$', 1) IN (SELECT path FROM candidate_paths)
