# zq — every target sets up what it needs in .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# cython-lint runs pycodestyle through PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint typecheck debug build clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

build: $(STAMP)  ## compile zq_core in place (after editing a .pyx)
	$(PY) setup.py --quiet build_ext --inplace

run: build  ## the main job: backtest the EMA cross example on generated data, print stats, write the report
	$(PY) -m zq backtest examples/configs/ema_cross.toml

test: build  ## lint, type-check and run the whole test suite
	$(VENV)/bin/ruff check zq tests benchmarks examples
	$(VENV)/bin/cython-lint zq_core
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

bench: build  ## run every benchmark script (prints figures)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check zq tests benchmarks examples
	$(VENV)/bin/cython-lint zq_core

typecheck: $(STAMP)
	$(VENV)/bin/mypy

debug: $(STAMP)  ## annotated, line-traced build (zq_core/*.html); `make clean build` goes back
	ZQ_DEBUG=1 $(PY) setup.py build_ext --inplace --force

clean:
	rm -rf build zq_core/*.c zq_core/*.so zq_core/*.html
