# Entry points (see README.md): `make report` installs and produces the HTML report; `make test` installs and runs every test.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WEIGHTS ?= auto
DATA_ROOT ?= auto
MODE ?= w4a16
MAX_IMAGES ?= 100
ARGS ?=

REPORTS ?= reports/out
PARAMS ?=

.PHONY: install report demo test test-notebooks test-pytest test-slow readme

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null

# The main job: the HTML report of a full run (quantize, export, validate, COCO FP32 vs quantized). The user's
# checkpoint and COCO when present (or given: WEIGHTS=... DATA_ROOT=...), else the bundled demo.
report: install
	@mkdir -p $(REPORTS)
	@nb=$(REPORTS)/aqm_report-$(MODE)-$$(date +%Y-%m-%d_%H-%M-%S).ipynb; \
	$(BIN)/papermill reports/aqm_report.ipynb $$nb -k python3 -p mode $(MODE) -p weights $(WEIGHTS) -p data_root $(DATA_ROOT) \
	  -p max_images $(MAX_IMAGES) $(PARAMS) && \
	$(BIN)/jupyter nbconvert --to html --no-input $$nb && echo "report: $${nb%.ipynb}.html"

# The same job without the report: `aqm run`, results in JSON under the run directory.
demo: install
	$(BIN)/aqm run --weights $(WEIGHTS) --data-root $(DATA_ROOT) --mode $(MODE) --max-images $(MAX_IMAGES) $(ARGS)

test: install
	$(MAKE) test-notebooks test-pytest

# Two test processes on two cores: one math thread each (more threads per process only wait for each other).
test-notebooks:
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2

test-pytest:
	cd tests && OMP_NUM_THREADS=1 ../$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow" -p no:cacheprovider .

# The heaviest checks (yolov10m at 640), each with a lighter twin in `make test`: run by hand.
test-slow: install
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --flags slow
	cd tests && OMP_NUM_THREADS=1 ../$(BIN)/python -m pytest -q -n 2 --dist loadfile -m slow -p no:cacheprovider .

# README.md is generated from nbs/index.ipynb.
readme:
	$(BIN)/jupyter nbconvert --to markdown --no-input --output-dir . --output README nbs/index.ipynb
