"""Imported once by multiprocessing's forkserver, the process tasks.ner.NerPool forks its workers from
(the forkserver's preload): it loads the model here, so every worker, a replacement too, starts with
it and the model's memory pages are shared. It lowers its priority after the load, not before: the
first chunks are waiting for the model (tasks.read_ahead), while the Prefect server that boots
meanwhile is waited for later."""

import os
import warnings

from tasks.ner import WORKER_NICENESS, load_nlp

# Every worker runs its owner's main module again (as __mp_main__). When the owner runs as
# `python -m NAME`, that module is preloaded here too (tasks.ner._owner_main_module), so that its
# imports are made once; runpy then warns, in each worker, that the module is imported already.
warnings.filterwarnings("ignore", r".* found in sys\.modules after import of package", RuntimeWarning, "runpy")
load_nlp()
os.nice(WORKER_NICENESS)
