# twpipe developer and user entry points. `make demo` and `make test` are all a
# new user needs; both create the virtual environment on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench docs clean

install: $(STAMP)

# Reinstall whenever the declared dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/twpipe toy-data data/toy
	$(BIN)/twpipe run configs/demo.yaml
	@echo "Results: runs/tw-demo/ (summary.md ranks the points; each point folder has plots/ and metrics.json)"

# Each script prints its table and whether its targets are met (see
# docs/performance.md); together they take about half an hour on two cores.
bench: install
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_run.py
	$(BIN)/python bench/bench_apply.py

# The study-file and command-line references are generated from the models
# and the commands (tests/test_docs.py checks both are current), then the
# site is built with every warning an error, so a broken link stops it.
docs: install
	$(BIN)/twpipe schema --format markdown > docs/study-file.md.tmp
	mv docs/study-file.md.tmp docs/study-file.md
	$(BIN)/python -m tw_pipeline.cli.reference > docs/cli.md.tmp
	mv docs/cli.md.tmp docs/cli.md
	$(BIN)/sphinx-build -b html -W --keep-going -n -q -E docs docs/_build/html
	@echo "Site: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) runs data/toy .pytest_cache docs/_build
