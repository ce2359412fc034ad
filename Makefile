# MARAC Hub: the two commands are `make run` and `make test`; see README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Test processes (pytest-xdist): each starts its own PostgreSQL server and identity providers.
JOBS ?= 2
STAMP := $(VENV)/.installed-stamp
ASSETS := hub/web/static/govuk/.installed-stamp
IDP := tools/dev-idp/node_modules/.installed-stamp
export HUB_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: install run test check lint format bench system-deps constraints clean idp

install: $(STAMP) $(ASSETS) ## virtualenv, Python packages and front-end assets

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p hub/web/static/govuk
	cp -R node_modules/govuk-frontend/dist/govuk/assets/. hub/web/static/govuk/
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css \
	   node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js hub/web/static/govuk/
	touch $@

$(IDP): tools/dev-idp/package.json tools/dev-idp/package-lock.json
	cd tools/dev-idp && npm ci --no-audit --no-fund --silent
	touch $@

idp: $(IDP)

# Debian packages the suite needs: a PostgreSQL server, Chromium, PDF tools and fonts.
# Installed only when missing, and only when running as root (CI and fresh machines).
SYSTEM_PACKAGES := postgresql chromium poppler-utils fonts-dejavu-core fonts-liberation
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages (install them as root): $$missing"; exit 1; \
	  fi; \
	fi

run: install $(if $(shell command -v npm),$(IDP)) ## set up and start the hub on SQLite with the demo area
	HUB_DEMO=1 $(BIN)/hub db upgrade
	HUB_DEMO=1 $(BIN)/hub demo seed
	HUB_DEMO=1 bash tools/run-dev.sh

test: install system-deps $(IDP) ## set up and run the whole suite
	$(BIN)/pytest -n $(JOBS)

# The fast lane: lint, then every test that needs neither a browser nor PostgreSQL nor a
# minute of its own (marked slow: the canary crawl, the two-scheduler processes), on the
# embedded SQLite database only. `make test` stays the whole suite.
check: install $(IDP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/vulture
	HUB_TEST_DATABASES=sqlite $(BIN)/pytest -n $(JOBS) -m "not browser and not postgres_only and not slow" -x

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install system-deps
	$(BIN)/python -m bench

constraints:
	$(BIN)/pip freeze --exclude-editable | sed '/^-e /d' > constraints.tmp
	{ echo "# Exact versions of every package, direct and indirect, proven to install together (pip check clean)."; \
	  echo "# Regenerate with: make constraints"; cat constraints.tmp; } > constraints.txt; rm constraints.tmp

clean:
	rm -rf $(VENV) node_modules hub/web/static/govuk tools/dev-idp/node_modules test-output
