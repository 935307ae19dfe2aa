/* The 20 people quoted most in articles published this calendar month (UTC), one row per
   identity (all the names an identity goes by count together), with how many quotes and articles.
   "This month" is the month of the query's clock; change the date_trunc bound (e.g.
   TIMESTAMPTZ '2005-03-01') for another month.
   Run: newslake sql "$(cat sql/examples/most_quoted_this_month.sql)" */
SELECT any_value(q.speaker_display_name) AS person,
       count(*) AS quotes,
       count(DISTINCT q.article_id) AS articles
FROM quote_identities AS q
JOIN articles AS a USING (article_id)
WHERE q.speaker_label = 'PERSON'
  AND a.published_at >= date_trunc('month', now())
GROUP BY q.speaker_id
ORDER BY quotes DESC, articles DESC, person
LIMIT 20
