-- Identities across the lake (tasks/identity.py), as views users join, created on a writer's
-- first open of a lake that lacks them. entity_ids is append-only: a name's newest row is its
-- current identity, so re-mapping a name changes no earlier row and no article's data files.

-- Each (name, label) and its current identity.
CREATE VIEW lake.entity_identity AS
SELECT name, label, entity_id, display_name
FROM lake.entity_ids
QUALIFY row_number() OVER (PARTITION BY name, label ORDER BY assigned_at DESC, entity_id) = 1;

-- Every mention with the identity it refers to.
CREATE VIEW lake.mention_identities AS
SELECT e.article_id, e.text, e.name, e.label, e.start_char, e.end_char, i.entity_id, i.display_name
FROM lake.entities AS e
LEFT JOIN lake.entity_identity AS i USING (name, label);

-- Every quote with its speaker's identity (NULL when the speaker is not known).
CREATE VIEW lake.quote_identities AS
SELECT q.article_id, q.quote, q.speaker, q.speaker_label, q.cue, q.start_char, q.end_char,
       i.entity_id AS speaker_id, i.display_name AS speaker_display_name
FROM lake.quotes AS q
LEFT JOIN lake.entity_identity AS i ON i.name = q.speaker AND i.label = q.speaker_label;
