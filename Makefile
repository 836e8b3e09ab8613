# tinysim-gym: every target creates .venv when it is missing and installs into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: install kernels test demo lint bench firmware docs dist clean

$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(FIND_LINKS) torch==2.13.0
	$(BIN)/python -m pip install --quiet $(FIND_LINKS) -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation .
	touch $(STAMP)

install: $(STAMP) kernels

# The kernels of one-off commands, compiled ahead of time: `tinysim simulate` then starts without numba
# (a C compiler is needed; without one, every command still runs, through numba). Not part of `make test`,
# whose tests build their own.
kernels: $(STAMP)
	$(BIN)/tinysim build-kernels > /dev/null || echo "tinysim: ahead-of-time kernels not built; commands use numba"

test: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --force-reinstall .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check tinysim_gym baselines agents tests benchmarks docs/hooks docs/tutorials
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
	$(BIN)/python benchmarks/demo_gap.py

# Cortex-M4 footprint of exports (not part of `make test`: it installs a Debian package). The fuzzy selector
# is always exported; AGENT=<run dir or agent ref> adds the agent as float32, int8 and a distilled tree.
FIRMWARE_OUT ?= build/firmware
CLOCK_MHZ ?= 80
firmware: $(STAMP)
	command -v arm-none-eabi-gcc >/dev/null 2>&1 || { apt-get update && apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi; }
	$(BIN)/tinysim export --policy fuzzy --out $(FIRMWARE_OUT)/fuzzy > /dev/null
	if [ -n "$(AGENT)" ]; then \
		$(BIN)/tinysim export --agent $(AGENT) --out $(FIRMWARE_OUT)/agent > /dev/null && \
		$(BIN)/tinysim export --agent $(AGENT) --quantize int8 --out $(FIRMWARE_OUT)/agent-int8 > /dev/null && \
		$(BIN)/tinysim export --agent $(AGENT) --distill tree --out $(FIRMWARE_OUT)/agent-tree > /dev/null; fi
	$(BIN)/python benchmarks/firmware.py --clock-mhz $(CLOCK_MHZ) $(FIRMWARE_OUT)/fuzzy \
		$(if $(AGENT),$(FIRMWARE_OUT)/agent $(FIRMWARE_OUT)/agent-int8 $(FIRMWARE_OUT)/agent-tree,)

# the documentation site into site/ (strict: a broken link or reference fails the build)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# sdist and wheel into dist/ (without isolation: setuptools comes from .venv, so it works offline)
dist: $(STAMP)
	$(BIN)/python -m build --no-isolation --outdir dist .
	rm -rf build

clean:
	rm -rf $(VENV) build dist site *.egg-info
