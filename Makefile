# Harbour: `make run` serves a seeded demo, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
FLASK := $(BIN)/flask --app wsgi
# `make run` is a local demo over plain HTTP on 127.0.0.1.
DEV_ENV := FLASK_HARBOUR_ENV=development FLASK_SESSION_COOKIE_SECURE=false \
	FLASK_SESSION_COOKIE_NAME=harbour_session FLASK_REMEMBER_COOKIE_SECURE=false \
	FLASK_REMEMBER_COOKIE_NAME=harbour_remember

.PHONY: run test test-anytime setup dev-setup translations compile-translations lint bench bench-http clean

# `make run` installs what running needs; `make test` adds the dev tools.
$(STAMP): setup.cfg pyproject.toml setup.py
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

setup: $(STAMP) compile-translations

dev-setup: $(DEV_STAMP) compile-translations

compile-translations: $(STAMP)
	$(BIN)/pybabel compile -d translations -D messages

run: setup
	$(DEV_ENV) $(FLASK) db upgrade
	$(DEV_ENV) $(FLASK) seed-if-empty
	PATH="$(CURDIR)/$(BIN):$$PATH" $(DEV_ENV) $(BIN)/honcho start -f Procfile

# Extract, merge and compile; messages.pot is committed sorted and without locations.
translations: $(STAMP)
	$(BIN)/pybabel extract -F translations/babel.cfg -k _l -k lazy_gettext \
		--sort-output --no-location --omit-header -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -D messages \
		--ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations -D messages

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -r community -ll

test: dev-setup lint
	env -u TEST_DATABASE_URL $(BIN)/pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL =="; \
		$(BIN)/pytest -m "not browser and not benchmark"; \
	fi

# The suite at four awkward instants with the system clock faked (Debian's
# faketime): small hours, the night UK clocks go forward, New Year's Eve, noon.
# A test that only passes at some hours fails here. Uses TEST_DATABASE_URL too.
ANYTIME := "2026-12-01 03:30:00" "2027-03-28 00:45:00" "2026-12-31 23:50:00" "2026-12-01 12:00:00"
# Faking the monotonic clock as well stalls Python's thread waits.
FAKETIME := TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f

test-anytime: dev-setup
	@command -v faketime >/dev/null || { echo "test-anytime needs faketime (apt-get install faketime)"; exit 1; }
	@set -e; for instant in $(ANYTIME); do \
		echo "== SQLite at $$instant UTC =="; \
		env -u TEST_DATABASE_URL $(FAKETIME) "@$$instant" $(BIN)/pytest -q -p no:cacheprovider \
			-m "not browser and not benchmark"; \
		if [ -n "$$TEST_DATABASE_URL" ]; then \
			echo "== PostgreSQL at $$instant UTC =="; \
			$(FAKETIME) "@$$instant" $(BIN)/pytest -q -p no:cacheprovider \
				-m "not browser and not benchmark"; \
		fi; \
	done

bench: dev-setup
	$(BIN)/pytest -m benchmark tests/benchmarks -s -q

# Public pages under load (wrk) as a share of ../shared/perf-baseline's bare page, on
# SQLite and, when TEST_DATABASE_URL is set, PostgreSQL. Not a test: CI does not run it.
# The scale data set is built once into .bench/ (and the database harbour_bench).
# BENCH_ARGS="--duration 5 --runs 1 --only /events" for a quicker look.
bench-http: setup
	@command -v wrk >/dev/null || { echo "bench-http needs wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m tests.benchmarks.bench_http $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .bench
