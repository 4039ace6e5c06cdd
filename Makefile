# Two commands on a fresh machine:
#   make demo   core install (no torch) in .venv-demo, then the embedded matcher on examples/
#   make test   dev install (all extras) in .venv, then the whole test suite
# Both are idempotent: a venv is rebuilt only when pyproject.toml or the constraints change.

PYTHON ?= python3
DEMO_VENV := .venv-demo
DEV_VENV := .venv
PIP_FLAGS := --disable-pip-version-check --quiet

.PHONY: demo test lint bench clean

$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

$(DEV_VENV)/.installed: pyproject.toml constraints-dev.txt
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/pip install $(PIP_FLAGS) -c constraints-dev.txt -e '.[dev]'
	touch $@

demo: $(DEMO_VENV)/.installed
	@bash examples/demo.sh $(DEMO_VENV)/bin/geoalign

test: $(DEV_VENV)/.installed
	$(DEV_VENV)/bin/ruff check src tests benchmarks scripts
	$(DEV_VENV)/bin/ruff format --check src tests benchmarks scripts
	$(DEV_VENV)/bin/lint-imports --no-cache
	$(DEV_VENV)/bin/mypy src
	$(DEV_VENV)/bin/python -m pytest tests

lint: $(DEV_VENV)/.installed
	$(DEV_VENV)/bin/ruff check src tests benchmarks scripts
	$(DEV_VENV)/bin/ruff format --check src tests benchmarks scripts
	$(DEV_VENV)/bin/lint-imports --no-cache
	$(DEV_VENV)/bin/mypy src

clean:
	rm -rf $(DEMO_VENV) $(DEV_VENV) artifacts test-output
