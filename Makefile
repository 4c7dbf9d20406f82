# The two commands a newcomer needs:  `make book`  and  `make test`.
# Each creates the virtual environment on first use and installs everything pinned.
SHELL := /bin/bash
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8000
# Tests and builds render demos as recorded runs; a live kernel (Binder) shows widgets.
export GENMECH_MODE ?= record
export PYTHONHASHSEED := 0

.PHONY: book site serve test test-unit test-notebooks test-site bench fuzz clean env

env: $(STAMP)

# The Python that creates .venv: 3.11.5 or newer (the lock's oldest Requires-Python).
PYTHON ?= python3
# PyTorch's CPU build on Linux, where PyPI's torch is the multi-GB CUDA build; on macOS
# PyPI's wheel is the CPU build already. `make TORCH_INDEX= env` uses pip's own index only.
# torch alone, without its dependencies (the lock pins them), so that only torch is looked
# up on PyTorch's index.
TORCH_INDEX ?= $(if $(filter Linux,$(shell uname -s)),https://download.pytorch.org/whl/cpu)
TORCH_PIN   := $(shell grep -m1 '^torch==' requirements.txt)

$(STAMP): requirements.txt code/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))' || { echo "The book needs Python 3.11.5 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1). Run: make PYTHON=python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-deps $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e ./code
	@touch $(STAMP)

## Execute every chapter and build the site into _build/html (warnings are errors).
# Notebooks run side by side, one per core (tools/executed.py); the build renders them.
book: $(STAMP)
	@mkdir -p _build; date +%s > _build/.make-book-start
	$(PY) tools/executed.py clean
	$(PY) tools/executed.py run
	$(MAKE) site
	@mkdir -p _build; echo "$$(date -u +%FT%TZ)  make book  $$(( $$(date +%s) - $$(cat _build/.make-book-start) )) s" >> _build/timings.txt

# Render the site from the notebooks executed in _build/executed (by `make book`, or by
# nbval in `make test`); a notebook missing there is executed by the build itself.
site: $(STAMP)
	$(PY) tools/executed.py cache
	$(VENV)/bin/jupyter-book build . --all -W --keep-going
	@echo; echo "The book is built: open $(CURDIR)/_build/html/index.html  (or: make serve)"

## Preview the built book on http://localhost:$(PORT)
serve: $(if $(wildcard _build/html/index.html),,book)
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

## Everything: unit and demo tests, every notebook under nbval, the site build, browser tests.
# Each stage's wall time, and the whole run's, go to _build/timings.txt (`make bench` prints them).
test: $(STAMP)
	@mkdir -p _build; date +%s > _build/.make-test-start
	$(call timed,test-unit)
	$(call timed,test-notebooks)
	$(call timed,site)
	$(call timed,test-site)
	@mkdir -p _build; echo "$$(date -u +%FT%TZ)  make test  $$(( $$(date +%s) - $$(cat _build/.make-test-start) )) s" >> _build/timings.txt

# $(call timed,target): make the target, then log its wall time (a failure stops `make test`)
timed = @s=$$(date +%s); $(MAKE) $(1) && echo "$$(date -u +%FT%TZ)    $(1)  $$(( $$(date +%s) - s )) s" >> _build/timings.txt

test-unit: $(STAMP)
	$(PY) -m pytest code/tests -q -n 2

# Every notebook under nbval twice, against the same committed outputs:
#  1. as the site is built (GENMECH_MODE=record), with this CPU's native vector kernels;
#     the notebooks it executes are saved (tools/nbval_executed.py) and are what
#     `make site` renders, so the site is built from the very run that nbval checked;
#  2. as a reader runs it on Binder or in their own JupyterLab (a live kernel: no
#     GENMECH_MODE), with torch's portable kernels (ATEN_CPU_CAPABILITY=default), so a
#     checked output that holds only on this CPU, or only in one mode, fails here.
# One thread per worker: two notebooks run side by side on two cores.
NBVAL := $(PY) -m pytest book --nbval-lax --nbval-current-env -n $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2) --dist loadfile -p no:cacheprovider -q

test-notebooks: $(STAMP)
	$(PY) tools/executed.py clean
	PYTHONPATH=tools OMP_NUM_THREADS=1 $(NBVAL) -p nbval_executed --save-executed _build/executed
	env -u GENMECH_MODE OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default $(NBVAL)

# Two workers: one drives the live demos in JupyterLab (that file goes whole to one worker:
# tests/conftest.py), the other takes the static site's browser tests one by one, and both
# share what is left (each worker has its own Chromium). Chromium's page loads keep both
# cores busy, so more workers would not be faster.
test-site: $(STAMP)
	$(PY) -m pytest tests -q -n 2

## Every live demo driven by a random reader for longer than `make test` does (before a release).
fuzz: $(STAMP)
	GENMECH_FUZZ_EXAMPLES=200 GENMECH_FUZZ_RULES=20 $(PY) -m pytest code/tests/test_live_fuzz.py -q -n 2

## Time every section and print each chapter's own figures.
bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf _build
