# The two commands in the README: `make demo` (install, then run the demo on SQLite) and
# `make test` (install, then run the whole suite). Everything else is a convenience.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test fuzz bench clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/hashedge demo

test: install
	$(BIN)/pytest

# Deeper than `make test`: the property-based and fuzz tests only, with fresh random seeds and ten
# times the examples (tests/hypothesis_profiles.py); a failure prints the blob that replays it.
fuzz: install
	HASHEDGE_HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m hypothesis

bench: install
	$(BIN)/python tests/bench/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
