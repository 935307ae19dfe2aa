/* Articles that mention two entities together, newest first, with the mentions of each: here
   'Tony Blair' and 'Gordon Brown'; any two canonical names from the entities table work.
   Two steps: the newest 50 are picked on ids and dates alone, then only their titles are read.
   Run: newslake sql "$(cat sql/examples/co_mentions.sql)" */
WITH both_named AS (
    SELECT article_id,
           count(*) FILTER (WHERE name = 'Tony Blair') AS first_mentions,
           count(*) FILTER (WHERE name = 'Gordon Brown') AS second_mentions
    FROM entities
    WHERE name IN ('Tony Blair', 'Gordon Brown')
    GROUP BY article_id
    HAVING first_mentions > 0 AND second_mentions > 0
), newest AS (
    SELECT b.*, a.published_at
    FROM both_named AS b
    JOIN articles AS a USING (article_id)
    ORDER BY a.published_at DESC NULLS LAST
    LIMIT 50
)
SELECT n.published_at, a.title, n.first_mentions, n.second_mentions, a.source_path
FROM newest AS n
JOIN articles AS a USING (article_id)
ORDER BY n.published_at DESC NULLS LAST, a.title
