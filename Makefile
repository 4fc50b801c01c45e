# make run  - start everything on this machine: SQLite, in-memory channel layer, Daphne on :8000
# make test - the whole suite, on SQLite + in-memory layer and on PostgreSQL + Redis
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-sqlite test-postgres services browser nginx venv bench

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-test.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	@echo
	@echo "  OCPP 1.6J central system on port $(PORT)"
	@echo "  Chargers connect to   ws://<this host>:$(PORT)/ocpp/<ClientId>   (subprotocol ocpp1.6)"
	@echo "  Panel:                http://127.0.0.1:$(PORT)/   (log in; sites and operators under /sites/)"
	@echo "  Admin:                http://127.0.0.1:$(PORT)/admin/"
	@echo "  First admin user:     $(PY) manage.py createsuperuser"
	@echo "  Add a charger:        $(PY) manage.py dp_create <ClientId>   (or set OCPP_AUTO_CREATE_CHARGE_POINTS=1)"
	@echo "  Approve it:           in the panel (Approve), or $(PY) manage.py dp_set _ChargePoint0001.Config.RegistrationStatus Accepted"
	@echo
	$(VENV)/bin/daphne -e tcp:port=$(PORT):interface=0.0.0.0:backlog=4096 --websocket_timeout -1 --websocket_connect_timeout 60 --ping-interval 20 ocpp_dp.asgi:application

services:
	bash scripts/ensure-services.sh

browser:
	bash scripts/ensure-browser.sh

nginx:
	bash scripts/ensure-nginx.sh

test: venv services browser nginx test-sqlite test-postgres

test-sqlite: venv browser nginx
	env -u REDIS_URL DATABASE_URL= $(PY) -m pytest -q tests

test-postgres: venv services browser nginx
	DATABASE_POOL=0 DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest -q tests

bench: venv services
	$(PY) bench/run.py
