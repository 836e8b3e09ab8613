# tinysim-gym: every target creates .venv when it is missing and installs into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: install test demo lint bench clean

$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(FIND_LINKS) torch==2.13.0
	$(BIN)/python -m pip install --quiet $(FIND_LINKS) -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --force-reinstall .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check tinysim_gym baselines agents tests benchmarks
	$(BIN)/lint-imports --no-cache

demo: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --force-reinstall .
	$(BIN)/tinysim demo

bench: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --force-reinstall .
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/env_step.py
	$(BIN)/python benchmarks/compare.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/scale.py --no-tick-loop
	$(BIN)/python benchmarks/cli_start.py
	$(BIN)/python benchmarks/ppo_share.py

clean:
	rm -rf $(VENV) build *.egg-info
