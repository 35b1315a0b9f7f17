# The two commands a newcomer needs: `make run` and `make test`. Everything else is detail.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Test processes in parallel: the suite mostly waits (subprocesses, sockets, PostgreSQL), so
# three workers keep two cores busy; each worker has its own migrated template databases.
TEST_WORKERS ?= 3

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/liaison db upgrade
	$(BIN)/liaison run

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot commands storage bench
	$(BIN)/hadolint Dockerfile

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
