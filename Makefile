# csp-analysis: the two commands of the README.
#   make report  -> creates .venv, installs the package, generates + ingests the synthetic
#                   default data and renders every default (synthetic) partnership
#   make test    -> creates .venv, installs the package and runs the test suite
#                   (make test-quick: the suite without the slow tests, about a minute)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
JOBS   ?= 2

.PHONY: report test test-quick test-slow report-real setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

report: $(STAMP)
	$(BIN)/csp setup-demo --quiet
	$(BIN)/csp run --group demo --jobs $(JOBS)

# The seed partnerships on the real open data beside the repository (../shared/data).
report-real: $(STAMP)
	$(BIN)/csp ingest-lookup ../shared/data/geography ../shared/data/population ../shared/data/deprivation
	$(BIN)/csp ingest ../shared/data/police_uk --quiet
	$(BIN)/csp run --group seed --jobs $(JOBS)

# every test (CI); test-quick leaves out the slow ones (about a minute), test-slow runs only those
test: $(STAMP)
	$(BIN)/python -m pytest -q

test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf outputs/*/ outputs/index.html outputs/index.json data/store data/demo
