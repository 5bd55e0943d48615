# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run serve test lint bench bundle dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Opens Ziggy Desktop (window, API and queue); ARGS passes a sub-command, e.g. `make run ARGS=serve`.
run: $(STAMP)
	$(BIN)/ziggy-desktop $(ARGS)

serve: $(STAMP)
	$(BIN)/ziggy-desktop serve

lint: $(STAMP)
	$(BIN)/lint-imports

test: $(STAMP)
	$(BIN)/lint-imports
	bash scripts/ensure_postgres.sh
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/api_launch.py
	$(BIN)/python bench/queue_drain.py

# The one-folder bundle (dist/ziggy-desktop/), then the .deb and .tar.gz built from it.
bundle: $(STAMP)
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN build.spec

dist: bundle
	bash packaging/build_deb.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
