-- The bytes of the files listed (their contents are not read).
SELECT sum(size) FROM read_blob($files)
