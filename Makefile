# Two commands on a bare machine: `make run` and `make test`. Each creates .venv and installs
# the project into it when missing or when setup.py changed; quick when nothing changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= S
UI_PORT ?= 3000
export DAGSTER_HOME := $(CURDIR)
export PYTHONWARNINGS := ignore::RuntimeWarning

.PHONY: run test ui migrate bench install clean-db stop

$(STAMP): setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## migrate, then materialize the whole asset graph once
	@$(VENV)/bin/analytics-pipeline run

test: $(STAMP)  ## the test suite (embedded PostgreSQL unless TEST_DATABASE_URL is set)
	$(PY) -m pytest -q

ui: $(STAMP)  ## Dagster UI + daemon on 127.0.0.1:$(UI_PORT)
	$(VENV)/bin/analytics-pipeline ui --port $(UI_PORT)

stop: $(STAMP)  ## stop the embedded PostgreSQL (`make run`, `make ui` and `make test` leave it running)
	$(VENV)/bin/analytics-pipeline stop

migrate: $(STAMP)
	$(VENV)/bin/analytics-pipeline migrate

bench: $(STAMP)  ## make bench PROFILE=S|M|L
	$(VENV)/bin/analytics-pipeline bench --profile $(PROFILE)
