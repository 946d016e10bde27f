# abc-inverse: `make demo` fits the default photo, `make test` runs the test suite. Both set up .venv first.
VENV := .venv
BIN := $(VENV)/bin
export NUMBA_THREADING_LAYER := workqueue
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test test-slow bench lint mediapipe-env

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

# The optional environment of experiments/real_photos.py (MediaPipe Face Mesh needs numpy < 2): .venv-mediapipe
mediapipe-env:
	[ -x .venv-mediapipe/bin/python ] || python3 -m venv .venv-mediapipe
	.venv-mediapipe/bin/python -m pip install -q --no-deps -r tools/requirements-mediapipe.txt
