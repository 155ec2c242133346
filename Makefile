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

.PHONY: install report demo test test-notebooks test-pytest test-slow docs readme gpu-check

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null

# The main job: the HTML report of a full run (quantize, export, validate, COCO FP32 vs quantized). The user's
# checkpoint and COCO when present (or given: WEIGHTS=... DATA_ROOT=...), else the bundled demo.
report: install
	$(BIN)/aqm report --out $(REPORTS) -p mode $(MODE) -p weights $(WEIGHTS) -p data_root $(DATA_ROOT) -p max_images $(MAX_IMAGES) $(PARAMS)

# The same job without the report: `aqm run`, results in JSON under the run directory.
demo: install
	$(BIN)/aqm run --weights $(WEIGHTS) --data-root $(DATA_ROOT) --mode $(MODE) --max-images $(MAX_IMAGES) $(ARGS)

# The notebooks and pytest side by side, each with two processes of one math thread: neither phase's last, longest
# test leaves a core idle (each phase's output is printed when it ends; a third pytest worker measured slower).
test: install
	$(MAKE) -j 2 --output-sync=target test-notebooks test-pytest

test-notebooks:
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing

# The files with the longest fixtures first, so that neither worker is left alone with one of them at the end.
LONG_TESTS := test_cli_every_command.py test_cli_modes.py test_resume.py test_report.py test_demo_run.py
TESTS := $(LONG_TESTS) $(filter-out $(LONG_TESTS),$(sort $(notdir $(wildcard tests/test_*.py))))
test-pytest:
	cd tests && OMP_NUM_THREADS=1 ../$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow" -p no:cacheprovider --durations 15 $(TESTS)

# The heaviest checks (yolov10m at 640), each with a lighter twin in `make test`: run by hand.
test-slow: install
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --flags slow
	cd tests && OMP_NUM_THREADS=1 ../$(BIN)/python -m pytest -q -n 2 --dist loadfile -m slow -p no:cacheprovider .

# ONNX Runtime's CUDA (and TensorRT) provider on the project's artifacts; says so in one line where there is no GPU.
gpu-check: install
	$(BIN)/python tests/benchmarks/gpu_check.py

# README.md is generated from nbs/index.ipynb, docs/results.md from nbs/26_results.ipynb.
docs:
	$(BIN)/jupyter nbconvert --to markdown --no-input --output-dir . --output README nbs/index.ipynb
	$(BIN)/jupyter nbconvert --to markdown --no-input --output-dir docs --output results nbs/26_results.ipynb
readme: docs
