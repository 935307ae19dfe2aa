"""Importing this module appends the importing process's pid to the file named by
NEWSLAKE_TEST_IMPORT_LOG (tests/ner_pool_owner.py)."""

import os

with open(os.environ["NEWSLAKE_TEST_IMPORT_LOG"], "a") as log:
    log.write(f"{os.getpid()}\n")
