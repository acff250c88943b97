# Two commands for a newcomer: `make demo` (the main job on the embedded sample, offline)
# and `make test` (install and run the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

SAMPLE_BOOKS := 46 43 55
DEMO := build/demo

demo: $(STAMP)
	$(BIN)/corpus fetch $(SAMPLE_BOOKS) --mirror data/gutenberg --out $(DEMO)/books
	$(BIN)/corpus attribute $(DEMO)/books --out $(DEMO)/shards --workers 2
	$(BIN)/corpus characters $(DEMO)/shards/46
	$(BIN)/corpus show $(DEMO)/shards/46 Scrooge --limit 3

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf build runs .pytest_cache
