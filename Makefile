# Sidecart: `make run` starts the shop, `make test` is the test command (CI runs it).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=
# Infrastructure profile (docs/profiles.md): `make run PROFILE=kafka,postgres`, `make test PROFILE=...`.
PROFILE ?=
ifneq ($(strip $(PROFILE)),)
export SIDECART_PROFILE := $(PROFILE)
endif
# Profiles of `make test-matrix` (space-separated; "all" for every combination).
MATRIX ?=
CI_PROFILES ?= kafka postgres

.PHONY: help bootstrap run test unit integration lint format clean check test-matrix screenshots bench

help:
	@echo "make run        start Redis, Zipkin, Prometheus, VictoriaLogs and every service beside its daprd"
	@echo "make test       lint, types, unit and integration tests, then the e2e suite on $(CI_PROFILES) (CI)"
	@echo "make check      lint, types, unit and integration tests on one profile (default redis)"
	@echo "make unit       unit tests only (no sidecar)"
	@echo "make bootstrap  install what is missing (venv, daprd, Redis, Zipkin, Prometheus, VictoriaLogs)"
	@echo "make test-matrix   the e2e suite on every runnable profile: profile x result x duration"
	@echo "make screenshots   headless Chromium screenshots of the shop into docs/screenshots/"
	@echo "make bench     side-by-side latency ratios, not a test: BENCH_ARGS=\"checkout --seconds 60\" (docs/benchmarks.md)"
	@echo "PROFILE=kafka,postgres  with run/test/bootstrap: swap brokers and stores (docs/profiles.md)"

$(VENV_STAMP): pyproject.toml
	@start=$$(date +%s); echo "[bootstrap] python venv $(VENV): installing ..."; \
	$(PYTHON) -m venv $(VENV) && \
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip && \
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]' && \
	rm -f $(VENV)/.installed-* && touch $@ && \
	echo "[bootstrap] python venv $(VENV): installed ($$(( $$(date +%s) - start ))s)"

bootstrap: $(VENV_STAMP)
	@$(BIN)/sidecart bootstrap

run: bootstrap
	@$(BIN)/sidecart run $(if $(strip $(PROFILE)),--profile "$(PROFILE)")

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src services web tests

format: $(VENV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(VENV_STAMP)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

integration: bootstrap
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

# The test command (README, CI): lint and the whole suite on the default profile, then the
# shop's end-to-end suite on kafka and postgres. With PROFILE=..., the whole suite on that profile.
test: check
ifeq ($(strip $(PROFILE)),)
	$(BIN)/sidecart matrix --profiles "$(CI_PROFILES)" -- $(PYTEST_ARGS)
endif

check: bootstrap lint
	$(BIN)/pytest $(PYTEST_ARGS)

test-matrix: bootstrap
	$(BIN)/sidecart matrix $(if $(strip $(MATRIX)),--profiles "$(MATRIX)") -- $(PYTEST_ARGS)


screenshots: bootstrap
	$(BIN)/python scripts/screenshots.py

# Benchmarks are not tests: no `make test` runs them. `sidecart bench --help` lists the options.
BENCH_ARGS ?= sidecar
bench: bootstrap
	$(BIN)/sidecart bench $(BENCH_ARGS)

clean:
	rm -rf .sidecart .pytest_cache .mypy_cache .ruff_cache
