-- Every file under the lake's data folder or s3:// prefix ($pattern ends in /**).
SELECT file FROM glob($pattern)
