/* The 20 people named in the most articles published this calendar month (UTC), with how many
   articles and mentions. "This month" is the month of the query's clock; change the date_trunc
   bound (e.g. TIMESTAMPTZ '2005-03-01') for another month.
   Run: newslake sql "$(cat sql/examples/top_people_this_month.sql)" */
SELECT e.name,
       count(DISTINCT e.article_id) AS articles,
       count(*) AS mentions
FROM entities AS e
JOIN articles AS a USING (article_id)
WHERE e.label = 'PERSON'
  AND a.published_at >= date_trunc('month', now())
GROUP BY e.name
ORDER BY articles DESC, mentions DESC, e.name
LIMIT 20
