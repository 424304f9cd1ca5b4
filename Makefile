# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WAN_STAMP := $(VENV)/.installed-wan

.PHONY: demo test lint install clean mutation system-packages

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e '.[test,dev]'
	touch $(STAMP)

# The tests also cover the wan engine on a tiny model, on the CPU. torch is pinned to the build these machines
# install from a local file (a CPU wheel); an unpinned torch would pull several GB of CUDA packages.
$(WAN_STAMP): $(STAMP)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,dev,wan]'
	touch $(WAN_STAMP)

install: $(STAMP)

# Starts the embedded server on loopback, submits the user guide's multi-subject example through the
# official dashscope SDK with reference media made here, waits, saves the MP4 and prints its path.
demo: $(STAMP)
	$(PY) -m r2v.demo

# System packages the tests need (Debian's postgresql for the multi-machine tests), installed when missing.
system-packages:
	tools/system-packages.sh

test: $(WAN_STAMP) system-packages
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

# Mutation testing, the measure of the suite (not part of `make test`, not run in CI): mutmut mutates the task store,
# request validation, billing and the director's dialogue and plan rules ([tool.mutmut] in pyproject.toml), runs
# the fast in-process tests against every mutant, and prints killed / total per module. Minutes on 2 cores.
MUTATION_CHILDREN ?= 2
mutation: $(STAMP)
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN)
	$(PY) tools/mutation_report.py --fail-under 80

clean:
	rm -rf $(VENV) demo-output build *.egg-info
