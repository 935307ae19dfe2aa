# newslake: `make run` and `make test` are all a fresh clone needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEEDS ?= seeds
LAKE ?= lake
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
# Prefect's client-side telemetry off too, and the notice it prints in a terminal: offline.
export DO_NOT_TRACK ?= 1
PREFECT_HOST ?= 127.0.0.1
PREFECT_PORT ?= 4200
POOL ?= newslake-local
# deploy and worker talk to the server `make ui` starts; ingest and watch need none (ephemeral mode).
deploy worker: export PREFECT_API_URL ?= http://$(PREFECT_HOST):$(PREFECT_PORT)/api

.PHONY: run test install ingest watch ui deploy worker bench bench-memory bench-dedup bench-quotes bench-formats clean postgres postgres-stop bench-commits bench-writers

run: $(STAMP)  ## create the venv, install, ingest seeds/ into ./lake and print what happened
	$(BIN)/newslake ingest --seeds $(SEEDS) --lake $(LAKE)

test: $(STAMP)  ## lint, then the test suite on 2 processes: whole modules, the longest first (tests/conftest.py)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder

install: $(STAMP)

# uv (from PyPI, pinned) installs what pyproject.toml pins, downloading in parallel: on a fresh
# machine about ten times as fast as pip. The venv gets no pip of its own (the host's installs uv into
# it; ensurepip where the host has none): seeding one costs more than the rest of the venv.
# Bytecode is not compiled ahead for the whole venv, most of which no process here imports: every
# process started by make writes the .pyc of what it imports, once, even where the environment sets
# PYTHONDONTWRITEBYTECODE (without a .pyc, every process would compile every module it imports).
# Preparing Prefect's database writes those of the Prefect server.
export PYTHONDONTWRITEBYTECODE =
UV_VERSION := 0.13.9
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet uv==$(UV_VERSION) || \
	  { $(BIN)/python -m ensurepip --default-pip && $(BIN)/python -m pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv pip install --python $(BIN)/python -e ".[test]"
	$(BIN)/python -m newslake.prefect_server prepare  # Prefect's database, migrated once into ~/.cache/newslake
	touch $(STAMP)

ingest: $(STAMP)
	$(BIN)/newslake ingest --seeds $(SEEDS) --lake $(LAKE)

watch: $(STAMP)  ## ingest files seconds after they land in $(SEEDS); no Prefect server needed
	$(BIN)/newslake watch --seeds $(SEEDS) --lake $(LAKE)

ui: $(STAMP)  ## Prefect server and UI on http://$(PREFECT_HOST):$(PREFECT_PORT), history in ./.prefect
	$(BIN)/python -m newslake.prefect_server ui $(PREFECT_HOST) $(PREFECT_PORT)  # prefect server start, its recorder batched

deploy: $(STAMP)  ## with `make ui` running: create the work pool if missing, deploy all of prefect.yaml
	$(BIN)/prefect work-pool inspect $(POOL) >/dev/null 2>&1 || $(BIN)/prefect work-pool create $(POOL) --type process
	$(BIN)/prefect work-pool inspect $(WRITERS_POOL) >/dev/null 2>&1 || $(BIN)/prefect work-pool create $(WRITERS_POOL) --type process
	$(BIN)/prefect --no-prompt deploy --all

worker: $(STAMP)  ## with `make ui` running: start scheduled runs from the work pool as local processes
	$(BIN)/prefect worker start --pool $(POOL)

# The many-writers mode's workers (README: "Many writers"). Writers have a pool of their own, so
# `make worker` (every run of $(POOL), as many at once as come) never takes one, and each writer
# worker runs one writer at a time: N runs spread over N workers, on this machine or on others.
# A worker stops gracefully on its first SIGINT and is killed by a second, so each gets one: from
# the terminal on Ctrl-C, or from the trap when make gets a TERM or HUP. `trap - INT`: bash starts
# a background job ignoring SIGINT, and a worker that ignores it does not stop.
N ?= 2
WRITERS_POOL ?= newslake-writers
.PHONY: workers
workers: export PREFECT_API_URL ?= http://$(PREFECT_HOST):$(PREFECT_PORT)/api
workers: SHELL := /bin/bash
workers: $(STAMP)  ## with `make ui` running: N workers (default 2) of the writers pool, in the foreground; Ctrl-C stops them all
	trap wait INT; trap 'kill -INT $$(jobs -p) 2>/dev/null; wait' TERM HUP; \
	for n in $$(seq $(N)); do \
	  (trap - INT; exec $(BIN)/prefect worker start --pool $(WRITERS_POOL) --limit 1 --name "$$(hostname)-writer-$$n") & \
	done; \
	wait

PG_DIR ?= .pg
PG_PORT ?= 0

postgres: $(STAMP)  ## PostgreSQL for a shared lake catalog in $(PG_DIR) on 127.0.0.1 (made once, started if stopped); prints its URL
	$(BIN)/python -m newslake.postgres start --dir $(PG_DIR) --port $(PG_PORT)

postgres-stop: $(STAMP)  ## stop the PostgreSQL that `make postgres` started
	$(BIN)/python -m newslake.postgres stop --dir $(PG_DIR)

CORPUS ?= ../shared/corpora/bbc
FORMATS_ARTICLES ?= 2000

bench: $(STAMP)  ## ingest vs bare spaCy NER (900 and 2,000 articles), no-op re-run, peak RSS; queries on 1M articles
	$(BIN)/python bench/bench_ingest.py --files 900 --repeat 3 --corpus $(CORPUS)
	$(BIN)/python bench/bench_ingest.py --files 2000 --corpus $(CORPUS)
	$(BIN)/python bench/bench_queries.py --corpus $(CORPUS)

bench-memory: $(STAMP)  ## peak RSS of ingesting 2,000 vs 20,000 files (about 7 minutes)
	$(BIN)/python bench/bench_ingest.py --memory 2000 20000 --corpus $(CORPUS)

bench-formats: $(STAMP)  ## HTML body F1 vs trafilatura, WARC = HTML, JSONL vs .txt articles/s, WARC peak RSS
	$(BIN)/python bench/bench_formats.py --articles $(FORMATS_ARTICLES) --corpus $(CORPUS)

bench-dedup: $(STAMP)  ## near dedup: precision/recall per kind of copy, and its cost beside NER
	$(BIN)/python bench/dedup_eval.py --corpus $(CORPUS)
	$(BIN)/python bench/dedup_cost.py --corpus $(CORPUS)

bench-commits: $(STAMP)  ## batch commits/s on a PostgreSQL catalog with 2, 4, 8 writers vs one writer on SQLite
	$(BIN)/python bench/bench_commits.py

bench-writers: $(STAMP)  ## 3 writers x 1 NER process on a PostgreSQL catalog vs 1 process x 2 on SQLite (900 articles)
	$(BIN)/python bench/bench_writers.py --files 900 --repeat 3 --corpus $(CORPUS)

bench-quotes: $(STAMP)  ## quotes vs the hand-made gold set (P/R/F1, speaker accuracy); identity pairs from the corpus
	$(BIN)/python bench/bench_quotes.py --corpus $(CORPUS)
	$(BIN)/python bench/bench_quotes.py --corpus $(CORPUS) --gold bench/quotes_gold/heldout.json
	$(BIN)/python bench/bench_identity.py --corpus $(CORPUS)

clean:  ## remove the lake and Prefect's local history (keeps the venv)
	rm -rf $(LAKE) .prefect
