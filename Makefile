# Porcelain only: everything real lives in CMake (build, tests) and in the
# driver (python3 -m harness). Two commands matter:
#   make run    prerequisites, build, then the full matrix; exit = verdict
#   make test   prerequisites, build, then every test through ctest
#   make quick  prerequisites, build, then the tests labelled quick (< 1 min)
# The build treats compiler warnings as errors (SL_WERROR, as the ci
# preset); WERROR=OFF relaxes that for a local experiment. `make test`
# includes the lint gates (label lint, tools/lint.sh).
# ARGS passes options through: to the driver for `run`, to ctest for `test`
# and `quick`, e.g.  make run ARGS='--protocol calc --shard 1/4'
#                    make test ARGS='-L unit -E zoo'
PYTHON ?= python3
BUILD  ?= build
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
ARGS   ?=
WERROR ?= ON

# The real interpreter behind PYTHON (a pyenv shim or a venv script would
# otherwise be re-entered on every launch).
PY = $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)


.PHONY: all prereqs build run test quick clean

all: build

prereqs:
	@sh tools/prereqs.sh $(PYTHON)

build: prereqs
	cmake -S . -B $(BUILD) -DPython3_EXECUTABLE=$(PY) -DSL_WERROR=$(WERROR)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(PY) -m harness run --build $(BUILD) $(ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) $(ARGS)

quick: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -L quick $(ARGS)

clean:
	rm -rf $(BUILD) results
