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

# The study-file reference is generated from the models; a test checks it.
docs: install
	$(BIN)/twpipe schema --format markdown > docs/study-file.md

clean:
	rm -rf $(VENV) runs data/toy .pytest_cache
