# One gate for developers and CI: `make check`. Every target installs what it needs first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall only when the declared dependencies change, not on every run.
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The project's own resource types: Python modules are generated next to each .proto.
PROTOS := $(shell find proto -name '*.proto')
GENERATED := $(PROTOS:.proto=_pb2.py)

# Fails with a clear message unless $(1) is a Python 3.11+ interpreter.
define require_python
	@command -v $(1) >/dev/null 2>&1 || { echo "error: '$(1)' not found; set PYTHON=/path/to/python3.11+" >&2; exit 1; }
	@$(1) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(1) is Python $$($(1) -c 'import platform; print(platform.python_version())'); Chaos Gateway needs 3.11 or newer (e.g. make PYTHON=python3.12)" >&2; exit 1; }
endef

.PHONY: run test check fmt clean bench bench-smoke bench-tools

run: $(STAMP) $(GENERATED)
	$(BIN)/chaosgw run

test: $(STAMP) $(GENERATED)
	$(BIN)/pytest -q $(PYTEST_ARGS)

check: $(STAMP) $(GENERATED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks (tests/bench): a full run writes tests/bench/results/latest.* and the README
# table; the smoke run (what CI runs) takes under 2 minutes and writes only untracked files.
bench: $(STAMP) $(GENERATED) bench-tools
	$(BIN)/python -m tests.bench

bench-smoke: $(STAMP) $(GENERATED) bench-tools
	$(BIN)/python -m tests.bench --smoke

# The load generators are Debian packages: wrk, and h2load from nghttp2-client.
bench-tools:
	@if command -v wrk >/dev/null 2>&1 && command -v h2load >/dev/null 2>&1; then exit 0; fi; \
	echo "bench: wrk or h2load is missing; installing the Debian packages wrk and nghttp2-client"; \
	command -v apt-get >/dev/null 2>&1 || { \
		echo "error: no apt-get here; install wrk and h2load (nghttp2-client) yourself" >&2; exit 1; }; \
	as_root=""; if [ "$$(id -u)" != 0 ]; then \
		command -v sudo >/dev/null 2>&1 || { \
			echo "error: installing wrk and nghttp2-client needs root (or sudo)" >&2; exit 1; }; \
		as_root=sudo; fi; \
	$$as_root apt-get update -qq && \
	$$as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends wrk nghttp2-client || { \
		echo "error: apt-get could not install wrk and nghttp2-client" >&2; exit 1; }; \
	command -v wrk >/dev/null 2>&1 && command -v h2load >/dev/null 2>&1 || { \
		echo "error: wrk or h2load still not found after installing" >&2; exit 1; }

clean:
	find proto -name '*_pb2.py*' -delete
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis var
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

$(BIN)/python:
	$(call require_python,$(PYTHON))
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(call require_python,$(BIN)/python)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

proto/%_pb2.py: proto/%.proto $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto $<
