/* Articles that mention two entities together, newest first, with the mentions of each: here
   'Tony Blair' and 'Gordon Brown'; any two canonical names from the entities table work.
   One equality filter per name (the sorted entities table skips all but a few row groups for
   each; an IN list is not pruned as well), then the newest 50 are picked on ids and dates alone,
   and only their titles are read.
   Run: newslake sql "$(cat sql/examples/co_mentions.sql)" */
WITH first_named AS (
    SELECT article_id, count(*) AS first_mentions
    FROM entities
    WHERE name = 'Tony Blair'
    GROUP BY article_id
), second_named AS (
    SELECT article_id, count(*) AS second_mentions
    FROM entities
    WHERE name = 'Gordon Brown'
    GROUP BY article_id
), newest AS (
    SELECT f.article_id, f.first_mentions, s.second_mentions, a.published_at
    FROM first_named AS f
    JOIN second_named AS s USING (article_id)
    JOIN articles AS a USING (article_id)
    ORDER BY a.published_at DESC NULLS LAST
    LIMIT 50
)
SELECT n.published_at, a.title, n.first_mentions, n.second_mentions, a.source_path
FROM newest AS n
JOIN articles AS a USING (article_id)
ORDER BY n.published_at DESC NULLS LAST, a.title
