/* The newest articles that mention one entity (by its canonical name within the article, so
   "Blair" and "Mr Blair" count when the article also says "Tony Blair"). The entity here is
   'Tony Blair'; put any name from `SELECT name, count(*) FROM entities GROUP BY 1 ORDER BY 2 DESC`.
   Run: newslake sql "$(cat sql/examples/articles_mentioning.sql)" */
SELECT a.published_at, a.title, a.outlet, m.mentions, a.source_path
FROM (
    SELECT article_id, count(*) AS mentions
    FROM entities
    WHERE name = 'Tony Blair'
    GROUP BY article_id
) AS m
JOIN articles AS a USING (article_id)
ORDER BY a.published_at DESC NULLS LAST, a.title
LIMIT 50
