/* Duplicate clusters: each article that has copies, with how many copies arrived and their files
   (exact and near), the lowest similarity among them and the methods that caught them.
   Run: newslake sql "$(cat sql/examples/duplicate_clusters.sql)"
   (a block comment: a query text starting with "--" would read as a CLI option) */
SELECT a.title AS canonical_title,
       a.source_path AS canonical_file,
       count(*) AS copies,
       min(d.similarity) AS lowest_similarity,
       string_agg(DISTINCT d.method, ', ' ORDER BY d.method) AS methods,
       list(d.source_path ORDER BY d.source_path) AS copy_files
FROM duplicates AS d
JOIN articles AS a USING (article_id)
GROUP BY a.article_id, a.title, a.source_path
ORDER BY copies DESC, canonical_title
