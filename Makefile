# The two commands: `make serve` starts Kensaku (embedded mode), `make test` runs the tests.
# Both create the virtual environment and install the project on first use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python

.PHONY: serve demo test bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

# The tests also need the `st` extra (torch, CPU build) for the sentence-transformers backend;
# `make serve` stays torch-free.
$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test,st]'
	touch $@

serve: $(VENV)/.installed
	$(VENV)/bin/kensaku serve $(ARGS)

# The bundled sample into the running server (the index kensaku-demo): run it beside `make serve`.
demo: $(VENV)/.installed
	$(VENV)/bin/kensaku demo $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest -q $(ARGS)

bench: $(VENV)/.installed-test
	$(PY) bench/relevance.py
	$(PY) bench/latency.py
