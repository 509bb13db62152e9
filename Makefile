# Two commands: `make run` (set up and serve the demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## run: install, migrate, load the demo township and serve web + worker on http://127.0.0.1:8000
run: $(STAMP)
	FENGQIAO_DEBUG=$${FENGQIAO_DEBUG:-1} $(BIN)/fengqiao run

## test: install and run the whole test suite (browser tests need /usr/bin/chromium)
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check fengqiao tests bench

typecheck: $(STAMP)
	$(BIN)/mypy fengqiao/*/services.py fengqiao/*/selectors.py fengqiao/org/permissions.py fengqiao/core/calendar.py

## messages: refresh and compile the translation catalogues (needs GNU gettext)
messages: $(STAMP)
	cd fengqiao && ../$(BIN)/django-admin makemessages -l zh_Hans -l en --ignore 'migrations/*' && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var/*.sqlite3*
