# The two commands of the README: `make run` and `make test`. DATABASE_URL switches both
# from the embedded SQLite database to PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Development defaults for `make run`; production sets real values in the environment.
RUN_ENV := DEBUG=$${DEBUG:-true}
# Tests: development settings, tasks run immediately, e-mail in memory (pytest-django).
TEST_ENV := DEBUG=true SECRET_KEY=test-only-secret-key \
	PERMIT_KEY_ENCRYPTION_KEY=dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTEyMzQ= \
	TASKS_BACKEND=django_tasks.backends.immediate.ImmediateBackend

.PHONY: run serve test lint bench venv venv-dev messages migrate worker clean format

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

messages: venv
	$(RUN_ENV) $(PY) manage.py compilemessages --ignore=.venv -v0

migrate: venv
	$(RUN_ENV) $(PY) manage.py migrate --noinput -v0

run: venv messages migrate
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py requeue_print_jobs
	@echo "Serving on http://$(HOST):$(PORT)/ (task worker beside it; Ctrl-C stops both)"
	@trap 'kill 0' EXIT INT TERM; \
	$(RUN_ENV) $(PY) manage.py db_worker --interval 1 & \
	$(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

# Production-like serving: gunicorn with whitenoise for static files. Needs the production
# environment (SECRET_KEY, PERMIT_KEY_ENCRYPTION_KEY, DATABASE_URL, ALLOWED_HOSTS...).
WORKERS ?= 4
serve: venv
	$(PY) manage.py compilemessages --ignore=.venv -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py migrate --noinput -v0
	$(VENV)/bin/gunicorn config.wsgi --bind $(HOST):$(PORT) --workers $(WORKERS) --threads 4 \
		--access-logfile - --forwarded-allow-ips '*'

worker: venv
	$(RUN_ENV) $(PY) manage.py db_worker

test: venv-dev
	$(TEST_ENV) $(PY) manage.py compilemessages --ignore=.venv -v0
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

lint: venv-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DEBUG=true $(PY) -m mypy .

format: venv-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: venv-dev
	@for script in bench/*.py; do echo "== $$script"; $(RUN_ENV) $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
