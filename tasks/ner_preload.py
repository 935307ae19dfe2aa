"""Imported once by multiprocessing's forkserver, the process tasks.ner.NerPool forks its workers from
(the forkserver's preload): it lowers its priority and loads the model here, so every worker, a
replacement too, starts with both, and the model's memory pages are shared."""

import os

from tasks.ner import WORKER_NICENESS, load_nlp

os.nice(WORKER_NICENESS)
load_nlp()
