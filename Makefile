# The two set-up commands of the README: `make demo` and `make test`. Both create the venv if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/memagent demo

test: install typecheck
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not integration and not server and not slow"

lint: install typecheck
	$(VENV)/bin/ruff check memagent stores agents tests bench examples

# mypy (strict) on the package as installed: stores/ and agents/ are memagent.stores and memagent.agents,
# so it reads a tree of links that places them there.
TYPECHECK := build/typecheck
typecheck: install
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/memagent
	ln -s $(CURDIR)/memagent/* $(TYPECHECK)/memagent/
	ln -s $(CURDIR)/stores $(TYPECHECK)/memagent/stores
	ln -s $(CURDIR)/agents $(TYPECHECK)/memagent/agents
	cd $(TYPECHECK) && $(abspath $(PY)) -m mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/.mypy_cache -p memagent

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .memagent .pytest_cache .mypy_cache build
