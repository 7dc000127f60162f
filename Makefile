# One gate for developers and CI: `make check`. Every target installs what it needs first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall only when the declared dependencies change, not on every run.
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

# Fails with a clear message unless $(1) is a Python 3.11+ interpreter.
define require_python
	@command -v $(1) >/dev/null 2>&1 || { echo "error: '$(1)' not found; set PYTHON=/path/to/python3.11+" >&2; exit 1; }
	@$(1) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(1) is Python $$($(1) -c 'import platform; print(platform.python_version())'); Chaos Gateway needs 3.11 or newer (e.g. make PYTHON=python3.12)" >&2; exit 1; }
endef

.PHONY: run test check fmt clean

run: $(STAMP)
	$(BIN)/chaosgw run

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis var
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

$(BIN)/python:
	$(call require_python,$(PYTHON))
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(call require_python,$(BIN)/python)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@
