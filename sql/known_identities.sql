-- The lake's current identity (newest row) of each name a batch brings (identity_probe: label,
-- identity_key, surname_key), and of every person sharing a surname with one of them. Rows are
-- filtered on their keys first (a name's keys never change), then the newest row of each name kept.
WITH candidates AS (
    SELECT i.*
    FROM entity_ids AS i
    WHERE (i.label, i.identity_key) IN (SELECT label, identity_key FROM identity_probe)
       OR (i.label = 'PERSON' AND i.surname_key IN (SELECT surname_key FROM identity_probe
                                                    WHERE surname_key IS NOT NULL))
)
SELECT name, label, entity_id, display_name, identity_key, surname_key
FROM candidates
QUALIFY row_number() OVER (PARTITION BY name, label ORDER BY assigned_at DESC, entity_id) = 1
