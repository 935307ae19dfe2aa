-- How many snapshots the catalog keeps (time-travel history).
SELECT count(*) FROM lake.snapshots()
