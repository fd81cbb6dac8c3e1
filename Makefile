# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BATON := $(BIN)/baton
PG_URL ?= postgres://postgres@127.0.0.1:5432/baton
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run install test test-sqlite test-postgres lint demo bench clean messages

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Baton needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## make run: set up, migrate, load the demo company into an empty database, serve on http://$(HOST):$(PORT)
run: install
	$(BATON) migrate --noinput -v 0
	$(BATON) collectstatic --noinput -v 0
	$(BATON) defaults
	$(BATON) demo --if-empty
	$(BATON) serve --bind $(HOST):$(PORT)

## make test: lint, then the whole suite on SQLite and on PostgreSQL (required under CI=true)
test: install lint test-sqlite test-postgres

lint:
	$(BIN)/ruff check baton bench

test-sqlite:
	$(BIN)/pytest -q -p no:randomly

test-postgres:
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_URL) is unreachable: under CI=true that is a failure"; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL at $(PG_URL) is unreachable; the suite ran on SQLite only"; \
	fi

demo: install
	$(BATON) migrate --noinput -v 0
	$(BATON) demo

bench: install
	$(BIN)/python bench/run_all.py

messages: install
	cd baton && ../$(BATON) makemessages -l zh_Hans -l en --no-obsolete && ../$(BATON) compilemessages

clean:
	rm -rf $(VENV) var
