-- Which of a batch's article ids the lake already holds (exact dedup against history).
SELECT a.article_id
FROM lake.articles AS a
WHERE a.article_id IN (SELECT article_id FROM batch_article_ids)
