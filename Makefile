# csp-analysis: the two commands of the README.
#   make report  -> creates .venv, installs the package, generates + ingests the synthetic
#                   default data and renders every default (synthetic) partnership
#   make test    -> creates .venv, installs the package and runs the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
JOBS   ?= 2

.PHONY: report test report-real setup clean

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

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf outputs/*/ outputs/index.html outputs/index.json data/store data/demo
