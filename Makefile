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

## lint: ruff over the package, the tests and the benchmarks (bench/ may not exist yet)
lint: $(STAMP)
	$(BIN)/ruff check $(wildcard fengqiao tests bench)

# services, selectors and permissions of every app (files, or packages once split), and the calendar;
# make expands the list, so an app without one of them is no error
TYPED := $(wildcard fengqiao/*/services.py fengqiao/*/services fengqiao/*/selectors.py fengqiao/*/selectors \
	fengqiao/*/permissions.py fengqiao/*/permissions fengqiao/core/calendar.py)

## typecheck: mypy (django-stubs) over services, selectors, permissions and the calendar
typecheck: $(STAMP)
	$(BIN)/mypy $(TYPED)

## messages: refresh and compile the Chinese catalogues (needs GNU gettext; English is the source language).
## An app with a locale/ folder of its own keeps its messages there; the rest go to fengqiao/locale.
messages: $(STAMP)
	cd fengqiao && ../$(BIN)/django-admin makemessages -l zh_Hans --ignore 'migrations/*' --ignore 'demo/*' --no-obsolete \
		&& ../$(BIN)/django-admin compilemessages -l zh_Hans

clean:
	rm -rf $(VENV) var/*.sqlite3*
