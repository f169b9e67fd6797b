# The two commands of the README: `make demo` (the main job, embedded default, no account, no
# network) and `make test` (everything CI runs). Both set up what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint browser bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium, for the report page test. Installed only when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(VENV)/bin/vestis demo --output vestis-demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src/vestis/contract src/vestis/client

# Everything on SQLite first; then the server and FASHN suites, and the scale-out suite, on
# PostgreSQL: VESTIS_TEST_POSTGRES_URL when set, else a throwaway cluster (.ci/postgres.sh
# installs Debian's postgresql if it is missing) stopped and removed afterwards.
PG_SUITES := tests/server tests/fashn tests/scaleout

test: $(STAMP) browser lint
	$(VENV)/bin/python -m pytest -q --ignore=tests/scaleout
	@if [ -n "$$VESTIS_TEST_POSTGRES_URL" ]; then \
	  $(VENV)/bin/python -m pytest -q $(PG_SUITES); \
	else \
	  dir=$$(mktemp -d /tmp/vestis-pg.XXXXXX) && trap '.ci/postgres.sh stop '"$$dir" EXIT && \
	  url=$$(.ci/postgres.sh start "$$dir") && \
	  VESTIS_TEST_POSTGRES_URL=$$url $(VENV)/bin/python -m pytest -q $(PG_SUITES); \
	fi

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks
