# facesym_pipeline: `make demo` builds and runs everything on real sample faces;
# `make test` runs lint and the test suite, `make test-fast` the tests not marked slow.
# Each target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: demo demo-distributed distributed-deps test test-fast dev install lint validate browser-deps bench clean-warehouse

# Installer output goes to $(INSTALL_LOG); its last lines are shown only when it fails.
INSTALL_LOG := $(VENV)/install.log
PIP_LOGGED = >> $(INSTALL_LOG) 2>&1 || (tail -n 40 $(INSTALL_LOG); exit 1)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (log: $(INSTALL_LOG))"
	@$(BIN)/python -m pip install --quiet --upgrade pip $(PIP_LOGGED)

# torch is installed first on its own so that its CPU build (2.13.0) is the one pinned.
$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -m pip install --quiet "torch==2.13.0" $(PIP_LOGGED)
	@$(BIN)/python -m pip install --quiet -e ".[test]" $(PIP_LOGGED)
	@touch $(STAMP)
	@echo "installed: $$($(BIN)/python -c 'import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("dagster", "mediapipe", "torch")))')"

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/facesym samples
	$(BIN)/facesym demo-data
	$(BIN)/facesym run
	$(BIN)/facesym status

lint: $(STAMP)
	$(BIN)/ruff check facesym_pipeline facesym_pipeline_tests bench
	$(BIN)/ruff format --check facesym_pipeline facesym_pipeline_tests bench

# Debian's Postgres and Redis for the distributed profile (installed, not started: the demo
# and the integration test start throw-away instances on loopback and stop them).
distributed-deps:
	@(command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1) || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql >/dev/null)

# The demo datasets on the distributed profile: Postgres, Redis, moto (S3), two Celery
# workers and the Dagster daemon on loopback; every lake table is compared with the local
# `make demo` result (made first when there is none).
demo-distributed: $(STAMP) distributed-deps
	@test -f warehouse/facesym.duckdb || $(MAKE) demo
	$(BIN)/facesym demo-distributed

# Loads every definition the way the UI does (component YAML, assets, checks, jobs, sensors).
validate: $(STAMP)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

# Debian's Chromium for the browser test (Playwright cannot download its own browser here).
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test: $(STAMP) lint validate browser-deps distributed-deps
	$(BIN)/facesym samples > /dev/null
	$(BIN)/python -m pytest -q

# The unit tests without the slow ones (Dagster runs, long landmark passes, training).
test-fast: $(STAMP)
	$(BIN)/facesym samples > /dev/null
	$(BIN)/python -m pytest -q -m "not slow"

dev: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -c "from facesym_pipeline.apps.instance_home import ensure_dagster_home; ensure_dagster_home()"
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: $(STAMP)
	$(BIN)/python bench/landmark_throughput.py

clean-warehouse:
	rm -rf .distributed warehouse/lake warehouse/facesym.duckdb warehouse/exports warehouse/reports warehouse/models
