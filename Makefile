# Two commands: `make demo` (set up, run the pipeline on the sample city) and `make test` (set up, run the tests).
# Only Python 3.11+ and make are needed: uv comes from PyPI into .uv/ when it is not on PATH.
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
PYTHON ?= python3
CHROMIUM := $(shell command -v chromium 2>/dev/null)
PDFTOPPM := $(shell command -v pdftoppm 2>/dev/null)
COMPOSE := $(shell command -v docker-compose 2>/dev/null)

.PHONY: demo test test-fast bench mutation airflow airflow-stop lint install browser compose-tool clean

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --extra postgres --extra celery --compile-bytecode
	touch $@

install: .venv/.synced

demo: .venv/.synced
	.venv/bin/bienestar demo

# The report test renders the page in a real headless Chromium (Debian's package) and prints it to PDF, whose
# pages pdftoppm (poppler-utils) turns into images.
browser:
ifeq ($(CHROMIUM),)
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "The report test needs Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu) and retry."; exit 1; fi
endif
ifeq ($(PDFTOPPM),)
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null; \
	else echo "The report test needs pdftoppm: run 'sudo apt-get install poppler-utils' and retry."; exit 1; fi
endif

# The compose test validates docker-compose.yml with Debian's docker-compose (no Docker daemon needed).
compose-tool:
ifeq ($(COMPOSE),)
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; \
	else echo "The compose test needs docker-compose: run 'sudo apt-get install docker-compose' and retry."; exit 1; fi
endif

lint: .venv/.synced
	.venv/bin/ruff check .

# Everything, including the end-to-end runs (e2e) and a real Airflow deployment on PostgreSQL and Redis
# (scheduler): under 20 minutes on 2 cores. The scheduler tests need PostgreSQL on 127.0.0.1:5432 (trust) and
# Redis on 127.0.0.1:6379, which .ci/run starts when they are not up.
test: .venv/.synced browser compose-tool lint
	.venv/bin/pytest

# Your own loop: everything but the e2e and scheduler tests, under 5 minutes.
test-fast: .venv/.synced browser lint
	.venv/bin/pytest -m "not e2e and not scheduler"

# The pipeline at --scale 1, 10 and 30 stage by stage with its baselines (benchmarks/README.md); about 12 minutes.
bench: .venv/.synced
	.venv/bin/python benchmarks/pipeline_bench.py

# Mutation testing of the rule modules (tests/mutants.py, docs/testing.md): prints the killed share and survivors.
mutation: .venv/.synced
	.venv/bin/python tests/mutants.py

# Airflow as an operator runs it (api-server, scheduler, dag-processor, triggerer, the sample portal) in the
# background on 127.0.0.1: prints the URL and login. SQLite by default; PostgreSQL when
# AIRFLOW__DATABASE__SQL_ALCHEMY_CONN says so. See docs/operations.md.
airflow: .venv/.synced
	.venv/bin/bienestar airflow start

airflow-stop: .venv/.synced
	.venv/bin/bienestar airflow stop

clean:
	rm -rf var .venv .uv
