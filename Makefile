# The two commands of the README: `make demo` (the main job, embedded default, no account, no
# network) and `make test` (everything CI runs). Both set up what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-pg lint browser bench

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

# lint-imports: the layers written in pyproject.toml ([tool.importlinter]); import_circles: no
# import circle between two files (type-only imports too). Both fail on an upward import or a
# new circle; docs/architecture.md draws the same layers.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src/vestis/contract src/vestis/client
	$(VENV)/bin/lint-imports --no-cache
	$(PY) .ci/import_circles.py

# Everything on SQLite first (the embedded default); then, on PostgreSQL, what differs there
# (`test-pg`): VESTIS_TEST_POSTGRES_URL when set, else a throwaway cluster (.ci/postgres.sh
# installs Debian's postgresql if it is missing) stopped and removed afterwards.
# The SQLite pass runs its test files on TEST_WORKERS processes at once (pytest-xdist; a file stays
# on one process, in order, so a module's shared server is started once). Every test starts its
# servers on free ports with data under its own tmp_path, so files do not share anything. Much of
# the time goes into waiting on server processes (a rate limit's minute, a busy timeout, a
# restart), so three workers keep a 2-core machine busy; the PostgreSQL pass (each test on its own
# new database) runs on two.
TEST_WORKERS ?= 3
PG_TEST_WORKERS ?= 2

test: $(STAMP) browser lint
	env -u VESTIS_TEST_POSTGRES_URL $(VENV)/bin/python -m pytest -q --ignore=tests/scaleout \
	  -n $(TEST_WORKERS) --dist loadfile
	@$(MAKE) --no-print-directory test-pg

# The PostgreSQL pass: the scale-out suite (2 API processes, 3 workers, moto's S3), the FASHN
# suite (but the CLI's FASHN provider and the local engine's run, whose server side
# test_server_e2e.py covers: client code and CPU), and the server suite's tests of what
# PostgreSQL changes: the database itself (migrations, every row and counter), the job queue
# (Procrastinate: pipeline, restarts, redo, recovery), credits, rate limits and idempotency
# across requests, events and webhooks, tokens, review, and the reference flow. Left to the SQLite pass,
# because they test nothing the database decides and would add minutes to CI's 30: the
# schemathesis run (test_openapi.py, HTTP contract), request bodies and hostile input (refused
# before any query), the full-disk test (the filesystem), image delivery and measures (CPU),
# login throttling (in memory), webhook URL rules, security of files and links, the load tests
# (uploads to disk; the status fast path is polled throughout this pass anyway), and the
# embedded server (SQLite by definition). Operator commands on --database-url run in the
# scale-out suite (users add, tokens create) and test_tokens.py (tokens list|revoke).
PG_TESTS := tests/scaleout tests/fashn \
  --ignore=tests/fashn/test_provider_e2e.py --ignore=tests/fashn/test_local_engine_e2e.py \
  tests/server/test_migrations.py tests/server/test_pipeline.py tests/server/test_restart.py \
  tests/server/test_redo_restart.py tests/server/test_endpoints.py \
  tests/server/test_idempotency.py tests/server/test_limits_and_faults.py \
  tests/server/test_notifications_webhooks.py tests/server/test_tokens.py \
  tests/server/test_review.py tests/server/test_reference_flow.py \
  tests/server/test_load.py::test_twenty_concurrent_creations_with_credits_for_two_accept_two \
  tests/server/test_load.py::test_concurrent_charges_and_refunds_add_up \
  tests/server/test_hostile_input.py::test_parallel_uploads_of_one_identity_image_make_one_identity \
  tests/server/test_hostile_input.py::test_refused_job_requests_do_not_use_up_the_rate_limit

test-pg: $(STAMP)
	@if [ -n "$$VESTIS_TEST_POSTGRES_URL" ]; then \
	  $(VENV)/bin/python -m pytest -q -n $(PG_TEST_WORKERS) --dist loadfile $(PG_TESTS); \
	else \
	  dir=$$(mktemp -d /tmp/vestis-pg.XXXXXX) && trap '.ci/postgres.sh stop '"$$dir" EXIT && \
	  url=$$(.ci/postgres.sh start "$$dir") && \
	  VESTIS_TEST_POSTGRES_URL=$$url $(VENV)/bin/python -m pytest -q -n $(PG_TEST_WORKERS) \
	    --dist loadfile $(PG_TESTS); \
	fi

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks
