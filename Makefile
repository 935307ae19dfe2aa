# newslake: `make run` and `make test` are all a fresh clone needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEEDS ?= seeds
LAKE ?= lake
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: run test install ingest watch ui deploy worker bench bench-dedup clean

run: $(STAMP)  ## create the venv, install, ingest seeds/ into ./lake and print what happened
	$(BIN)/newslake ingest --seeds $(SEEDS) --lake $(LAKE)

test: $(STAMP)  ## run the test suite
	$(BIN)/pytest -q

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

ingest: $(STAMP)
	$(BIN)/newslake ingest --seeds $(SEEDS) --lake $(LAKE)

CORPUS ?= ../shared/corpora/bbc

bench-dedup: $(STAMP)  ## near dedup: precision/recall per kind of copy, and its cost beside NER
	$(BIN)/python bench/dedup_eval.py --corpus $(CORPUS)
	$(BIN)/python bench/dedup_cost.py --corpus $(CORPUS)

clean:  ## remove the lake and Prefect's local history (keeps the venv)
	rm -rf $(LAKE) .prefect
