# Two commands do everything on a fresh machine: `make repro` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: install repro test test-slow bench bench-setup bench-quality clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: any other torch request pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

repro: $(STAMP)
	dvc repro

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not gpu" -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow" -q

# Reference tools (ctgan, SDV: Business Source License) live only in .venv-bench, never in .venv.
BENCH_STAMP := .venv-bench/.installed
$(BENCH_STAMP): benchmarks/requirements-bench.txt benchmarks/constraints-bench.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q torch==2.13.0
	.venv-bench/bin/python -m pip install -q -c benchmarks/constraints-bench.txt -r benchmarks/requirements-bench.txt
	touch $(BENCH_STAMP)

bench-setup: $(BENCH_STAMP)

# Minutes on 2 cores; results -> benchmarks/results/, table -> docs/benchmarks.md. BENCH_ARGS="--epochs 5 ..."
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Fidelity side by side (issue 8): ours vs SDV GaussianCopula / TVAE / ctgan / independent
# baseline on every built-in dataset, scored by `synth evaluate` -> docs/quality.md. Hours on
# 2 cores; QUALITY_ARGS="--datasets penguins --ref-epochs 5 --set train.epochs=2" for a quick one.
bench-quality: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python benchmarks/quality.py $(QUALITY_ARGS)

# Regenerate the lock after changing dependencies (needs network to the package registry).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch==' > constraints.txt
	echo "torch==2.13.0" >> constraints.txt

clean:
	rm -rf $(VENV)
