/* The newest articles that mention one entity (by its canonical name within the article, so
   "Blair" and "Mr Blair" count when the article also says "Tony Blair"). The entity here is
   'Tony Blair'; put any name from `SELECT name, count(*) FROM entities GROUP BY 1 ORDER BY 2 DESC`.
   Two steps: the newest 50 are picked on ids and dates alone, then only their titles are read.
   Run: newslake sql "$(cat sql/examples/articles_mentioning.sql)" */
WITH mentioning AS (
    SELECT article_id, count(*) AS mentions
    FROM entities
    WHERE name = 'Tony Blair'
    GROUP BY article_id
), newest AS (
    SELECT m.article_id, m.mentions, a.published_at
    FROM mentioning AS m
    JOIN articles AS a USING (article_id)
    ORDER BY a.published_at DESC NULLS LAST
    LIMIT 50
)
SELECT n.published_at, a.title, a.outlet, n.mentions, a.source_path
FROM newest AS n
JOIN articles AS a USING (article_id)
ORDER BY n.published_at DESC NULLS LAST, a.title
