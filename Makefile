# Porcelain only: everything real lives in CMake (build, tests) and in the
# driver (python3 -m harness). Two commands matter:
#   make run    prerequisites, build, then the full matrix; exit = verdict
#   make test   prerequisites, build, then every test through ctest
PYTHON ?= python3
BUILD  ?= build
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

# The real interpreter behind PYTHON (a pyenv shim or a venv script would
# otherwise be re-entered on every launch).
PY = $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)

.PHONY: all prereqs build run test clean

all: build

prereqs:
	@sh tools/prereqs.sh $(PYTHON)

build: prereqs
	cmake -S . -B $(BUILD) -DPython3_EXECUTABLE=$(PY)
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(PY) -m harness run --build $(BUILD)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) results
