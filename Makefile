# make setup | make demo | make test   (each creates or reuses .venv)
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU machines take the CPU wheel of torch before anything else can pull a CUDA build.
# GPU machines: install your CUDA torch into .venv first, then `make setup TORCH=`.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup demo test test-soak test-slow test-browser lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	if [ -n "$(TORCH)" ]; then $(PY) -m pip install -q "$(TORCH)"; fi
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(VENV)/bin/harness demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-browser: setup
	$(PY) -m pytest -q tests/test_browser.py

test-soak: setup
	$(PY) -m pytest -q -m soak $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check harness fine_tune leaderboard_app tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf results/*.db demo_out .pytest_cache
