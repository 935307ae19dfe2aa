-- Near-dedup candidates: canonical articles sharing at least one LSH band key with a new story of
-- the batch (`batch_band_keys`: item, band, band_hash), with their shingle count and sketch for
-- verification (never their bodies: reading the body column costs more than the rest of dedup);
-- first-ingested first, so ties keep the oldest article as the canonical.
-- The join is on the band hash alone: this scan reads every band key of the lake, and leaving the
-- `band` column unread costs a fifth less CPU. A hash equal across two bands (a body band and the
-- same band of a lead as long as the body, say) only adds a candidate, which verification judges.
WITH hits AS (
    SELECT DISTINCT k.item, m.article_id
    FROM batch_band_keys AS k
    JOIN lake.minhash_bands AS m ON m.band_hash = k.band_hash
)
SELECT h.item, h.article_id, s.shingle_count, s.sketch
FROM hits AS h
JOIN lake.shingle_sketches AS s ON s.article_id = h.article_id
JOIN lake.articles AS a ON a.article_id = h.article_id
ORDER BY h.item, a.ingested_at, h.article_id
