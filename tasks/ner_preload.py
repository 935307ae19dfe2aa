"""Imported once by multiprocessing's forkserver, the process tasks.ner.NerPool forks its workers from
(the forkserver's preload): it loads the model here, so every worker, a replacement too, starts with
it and the model's memory pages are shared. It lowers its priority after the load, not before: the
first chunks are waiting for the model (tasks.read_ahead), while the Prefect server that boots
meanwhile is waited for later."""

import os

from tasks.ner import WORKER_NICENESS, load_nlp

load_nlp()
os.nice(WORKER_NICENESS)
