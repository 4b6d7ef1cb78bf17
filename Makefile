# swiftnn — `make run` trains a network, `make test` runs every test. Both install first.
SWIFT ?= swift

# The Python everything runs with. An active virtual environment (venv, virtualenv, conda) is
# used as it is; otherwise the project's own .venv/, created from the `python3` on PATH on first
# use. Debian's system Python is externally managed (PEP 668) and refuses pip outside an
# environment, so installing into it is never attempted. PYTHON=... overrides both.
VENV ?= $(CURDIR)/.venv
ifneq ($(VIRTUAL_ENV)$(CONDA_PREFIX),)
PYTHON ?= python3
else
PYTHON ?= $(VENV)/bin/python
endif
export PYTHON

.PHONY: help run test build deps deps-dev test-swift test-python demo clean

help:
	@echo "make run     install what is missing, build, and train a network on Fashion-MNIST"
	@echo "make demo    a two-layer net on spiral data through the layer API"
	@echo "make test    install what is missing, build, and run the Swift and Python tests"
	@echo "make notebooks  run every notebook on the full data; executed copies in out/notebooks/"
	@echo "make build   build libswiftnn.so (release) and install the Python package in place"
	@echo "make clean   remove build products"
	@echo "make sanitize  the library under AddressSanitizer (XCTest + Python tests) and ThreadSanitizer"
	@echo "make bench   benchmark against NumPy (and JAX, PyTorch when installed); writes bench/RESULTS.md"
	@echo "make bench-peers  install the benchmark's peers: jax, torch==2.13.0+cpu, scikit-learn, scipy-openblas32"

deps:
	@VENV=$(VENV) scripts/install-deps.sh requirements.txt

deps-dev:
	@VENV=$(VENV) scripts/install-deps.sh requirements-dev.txt

# The package is installed in place once; later builds only rebuild the library.
build:
	$(SWIFT) build -c release --product swiftnn $$(scripts/swift-build-flags.sh)
	@$(PYTHON) scripts/installed_here.py || \
		$(PYTHON) -m pip install -q --disable-pip-version-check --no-build-isolation -e .

run: deps build
	$(PYTHON) -m swiftnn train --out out/train

demo: build
	$(PYTHON) -m swiftnn.demo

test: deps-dev build test-swift test-python

test-swift:
	$(SWIFT) test

test-python:
	$(PYTHON) -m pytest python/tests

# The notebooks, top to bottom with outputs in out/notebooks/ (the committed ones stay without
# outputs). NOTEBOOK_ARGS=--small runs them on the test suite's small data.
.PHONY: notebooks
notebooks: deps-dev build
	$(PYTHON) notebooks/run_notebooks.py $(NOTEBOOK_ARGS)

clean:
	rm -rf .build build dist python/*.egg-info python/swiftnn/libswiftnn.so

# Benchmarks, not part of the tests. BENCH_ARGS passes flags to bench/run.py (e.g. --quick).
.PHONY: bench bench-peers
bench: deps build
	$(PYTHON) bench/run.py $(BENCH_ARGS)

bench-peers: deps
	$(PYTHON) -m pip install jax "torch==2.13.0+cpu" scikit-learn threadpoolctl scipy-openblas32

# Sanitizers (AddressSanitizer + LeakSanitizer, ThreadSanitizer): scripts/sanitize.sh says what
# runs. Builds in .build-asan/ and .build-tsan/; SANITIZE_EXAMPLES sets the property examples.
.PHONY: sanitize
sanitize: deps-dev build
	SWIFT=$(SWIFT) PYTHON=$(PYTHON) scripts/sanitize.sh
