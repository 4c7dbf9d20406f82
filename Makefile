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

.PHONY: book serve test test-unit test-notebooks test-site bench fuzz clean env

env: $(STAMP)

$(STAMP): requirements.txt code/pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e ./code
	@touch $(STAMP)

## Execute every chapter and build the site into _build/html (warnings are errors).
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all -W --keep-going
	@echo; echo "The book is built: open $(CURDIR)/_build/html/index.html  (or: make serve)"

## Preview the built book on http://localhost:$(PORT)
serve: $(if $(wildcard _build/html/index.html),,book)
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

## Everything: unit and demo tests, every notebook under nbval, the site build, browser tests.
test: $(STAMP)
	$(MAKE) test-unit
	$(MAKE) test-notebooks
	$(MAKE) book
	$(MAKE) test-site

test-unit: $(STAMP)
	$(PY) -m pytest code/tests -q -n 2

# Every notebook under nbval twice, against the same committed outputs:
#  1. as the site is built (GENMECH_MODE=record), with this CPU's native vector kernels;
#  2. as a reader runs it on Binder or in their own JupyterLab (a live kernel: no
#     GENMECH_MODE), with torch's portable kernels (ATEN_CPU_CAPABILITY=default), so a
#     checked output that holds only on this CPU, or only in one mode, fails here.
# One thread per worker: two notebooks run side by side on two cores.
NBVAL := $(PY) -m pytest book --nbval-lax --nbval-current-env -n 2 --dist loadfile -p no:cacheprovider -q

test-notebooks: $(STAMP)
	OMP_NUM_THREADS=1 $(NBVAL)
	env -u GENMECH_MODE OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default $(NBVAL)

test-site: $(STAMP)
	$(PY) -m pytest tests -q

## Every live demo driven by a random reader for longer than `make test` does (before a release).
fuzz: $(STAMP)
	GENMECH_FUZZ_EXAMPLES=200 GENMECH_FUZZ_RULES=20 $(PY) -m pytest code/tests/test_live_fuzz.py -q -n 2

## Time every section and print each chapter's own figures.
bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf _build
