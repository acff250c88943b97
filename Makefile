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

demo: $(STAMP)
	@echo "demo: filled in once the stages exist"

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf build runs .pytest_cache
