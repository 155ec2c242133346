# Two entry points (see README.md): `make demo` installs and runs the main job; `make test` installs and runs every test.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WEIGHTS ?= auto
DATA_ROOT ?= auto
MODE ?= w4a16
MAX_IMAGES ?= 100
ARGS ?=

.PHONY: install demo run test test-notebooks test-pytest clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null

# The main job: quantize and evaluate, the user's checkpoint and COCO when present (or given), else the bundled demo.
demo: install
	$(BIN)/python -m auto_quantize_model.cli run --weights $(WEIGHTS) --data-root $(DATA_ROOT) --mode $(MODE) \
	  --max-images $(MAX_IMAGES) $(ARGS)

test: install
	$(MAKE) test-notebooks test-pytest

test-notebooks:
	$(BIN)/nbdev_test --n_workers 2 --flags slow

test-pytest:
	cd tests && ../$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider .
