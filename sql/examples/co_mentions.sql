/* Articles that mention two entities together, newest first, with the mentions of each: here
   'Tony Blair' and 'Gordon Brown'; any two canonical names from the entities table work.
   Run: newslake sql "$(cat sql/examples/co_mentions.sql)" */
SELECT a.published_at, a.title, m.first_mentions, m.second_mentions, a.source_path
FROM (
    SELECT article_id,
           count(*) FILTER (WHERE name = 'Tony Blair') AS first_mentions,
           count(*) FILTER (WHERE name = 'Gordon Brown') AS second_mentions
    FROM entities
    WHERE name IN ('Tony Blair', 'Gordon Brown')
    GROUP BY article_id
    HAVING first_mentions > 0 AND second_mentions > 0
) AS m
JOIN articles AS a USING (article_id)
ORDER BY a.published_at DESC NULLS LAST, a.title
LIMIT 50
