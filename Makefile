# abc-inverse: `make demo` fits the default photo, `make test` runs the test suite. Both set up .venv first.
VENV := .venv
BIN := $(VENV)/bin
export NUMBA_THREADING_LAYER := workqueue
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test test-slow bench lint

setup:
	bash tools/setup.sh

demo: setup
	$(BIN)/abc-inverse fit --out out/demo

test: setup
	$(BIN)/lint-imports --no-cache
	@$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure" >&2; exit 1; fi; exit $$rc

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python benchmarks/proposals_per_second.py

lint: setup
	$(BIN)/python -m ruff check .
