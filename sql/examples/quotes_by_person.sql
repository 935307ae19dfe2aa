/* Every quote by one person, newest first, whichever way the articles named them ("Tony Blair",
   "Mr Blair", "the prime minister", "Blair" alone where the lake knows one Blair): quotes are
   matched on the speaker's identity, not the spelling. Put any name from
   `SELECT speaker, count(*) FROM quotes GROUP BY 1 ORDER BY 2 DESC`.
   Run: newslake sql "$(cat sql/examples/quotes_by_person.sql)" */
WITH person AS (
    SELECT DISTINCT entity_id
    FROM entity_identity
    WHERE label = 'PERSON' AND (name = 'Tony Blair' OR display_name = 'Tony Blair')
)
SELECT a.published_at, q.speaker, q.cue, q.quote, a.title
FROM quote_identities AS q
JOIN person AS p ON q.speaker_id = p.entity_id
JOIN articles AS a USING (article_id)
ORDER BY a.published_at DESC NULLS LAST, a.title, q.start_char
