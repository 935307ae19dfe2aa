/* Everything that mentions one identity under any of its names ("Vladimir Putin", "President
   Putin", "Putin"), newest first, with the names each article used. The identity is picked by
   name here; any name from `SELECT name, display_name FROM entity_identity` works.
   Run: newslake sql "$(cat sql/examples/mentions_of_identity.sql)" */
WITH identity AS (
    SELECT DISTINCT entity_id
    FROM entity_identity
    WHERE label = 'PERSON' AND (name = 'Vladimir Putin' OR display_name = 'Vladimir Putin')
), mentioning AS (
    SELECT m.article_id, count(*) AS mentions, list(DISTINCT m.text ORDER BY m.text) AS named_as
    FROM mention_identities AS m
    JOIN identity AS i USING (entity_id)
    GROUP BY m.article_id
)
SELECT a.published_at, a.title, m.mentions, m.named_as, a.source_path
FROM mentioning AS m
JOIN articles AS a USING (article_id)
ORDER BY a.published_at DESC NULLS LAST, a.title
