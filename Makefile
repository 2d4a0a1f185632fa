# Two commands for a new user: `make run` and `make test`.
# The venv is rebuilt only when the dependency files change (stamp file).
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
KEICAST := $(VENV)/bin/keicast
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export GX_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: run test lint bench clean browser docs

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The five source articles the register cites (data/articles) are the inbox's first corpus.
run: $(STAMP)
	@mkdir -p articles && cp -n data/articles/*.txt articles/ 2>/dev/null || true
	$(KEICAST) run

# Two workers, each test file on one (its module fixtures built once); the slowest tests are listed at the end.
test: $(STAMP) browser
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=15

# The report's browser test needs Debian's chromium + chromedriver; install them when missing.
browser:
	@bash .ci/install-browser

# The warehouse schema page is generated from keicast/warehouse.py (a test fails when it is stale).
docs: $(STAMP)
	$(KEICAST) schema > docs/warehouse.md

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/bench_montecarlo.py
	$(VENV)/bin/python bench/bench_sensitivity.py

clean:
	rm -rf $(VENV) data/keicast.duckdb* reports exports .pytest_cache
