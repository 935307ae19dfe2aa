-- How the lake lays out its rows, set when the tables are created (see README, "Performance").
-- Sorted tables are sorted as each batch is written and again when compaction
-- (ducklake_merge_adjacent_files) merges batches into large files, whose min/max statistics then
-- let a query skip every file and row group that cannot match:
--   entities by (label, name): `name = 'X'` and `label = 'PERSON'` read a sliver of the table;
--   articles by published_at: "this month" reads the newest row groups only.
--   quotes by speaker: "every quote by X" reads a sliver of the table.
ALTER TABLE lake.entities SET SORTED BY (label, name);
ALTER TABLE lake.articles SET SORTED BY (published_at);
ALTER TABLE lake.quotes SET SORTED BY (speaker);
