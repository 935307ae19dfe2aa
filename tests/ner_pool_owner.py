"""A program that owns a NER pool, for tests/test_ner.py, run as `python -m tests.ner_pool_owner`: it
prints its workers' pids. Its import of tests.imported_by records every process that
makes that import."""

from tasks.ner import NerPool
from tests import imported_by  # noqa: F401 (imported for what importing it records)

if __name__ == "__main__":
    with NerPool(processes=2) as pool:
        list(pool.submit(["Tony Blair met Gordon Brown in London on Monday."] * 4).entities())
        print(" ".join(str(pid) for pid in pool.worker_pids()))
