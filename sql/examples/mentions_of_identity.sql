/* Everything that mentions one identity under any of its names ("Vladimir Putin", "President
   Putin", "Putin"), newest first, with the names each article used. The identity is picked by
   name here; any name from `SELECT name, display_name FROM entity_identity` works.
   The identity's names are looked up first and the mentions joined on them: `entities` is sorted
   by (label, name), so the scan reads the row groups of those names only, where filtering the
   mention_identities view would join every mention to its identity first.
   Run: newslake sql "$(cat sql/examples/mentions_of_identity.sql)" */
WITH identity AS (
    SELECT DISTINCT entity_id
    FROM entity_identity
    WHERE label = 'PERSON' AND (name = 'Vladimir Putin' OR display_name = 'Vladimir Putin')
), names AS (
    SELECT i.name, i.label
    FROM entity_identity AS i
    JOIN identity USING (entity_id)
), mentioning AS (
    SELECT e.article_id, count(*) AS mentions, list(DISTINCT e.text ORDER BY e.text) AS named_as
    FROM entities AS e
    JOIN names AS n ON e.label = n.label AND e.name = n.name
    GROUP BY e.article_id
)
SELECT a.published_at, a.title, m.mentions, m.named_as, a.source_path
FROM mentioning AS m
JOIN articles AS a USING (article_id)
ORDER BY a.published_at DESC NULLS LAST, a.title
