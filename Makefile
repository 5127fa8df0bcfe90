# Two commands: `make demo` (set up, run the pipeline on the sample city) and `make test` (set up, run the tests).
# Only Python 3.11+ and make are needed: uv comes from PyPI into .uv/ when it is not on PATH.
UV := $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
PYTHON ?= python3
CHROMIUM := $(shell command -v chromium 2>/dev/null)

.PHONY: demo test lint install browser clean

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

install: .venv/.synced

demo: .venv/.synced
	.venv/bin/bienestar demo

# The report test renders the page in a real headless Chromium (Debian's package).
browser:
ifeq ($(CHROMIUM),)
	@if [ "$$(id -u)" = "0" ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "The report test needs Chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu) and retry."; exit 1; fi
endif

lint: .venv/.synced
	.venv/bin/ruff check .

test: .venv/.synced browser lint
	.venv/bin/pytest

clean:
	rm -rf var .venv .uv
