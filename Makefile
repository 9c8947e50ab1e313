# neuromap: the two commands a fresh machine needs are `make demo` and `make test`.
# Both create .venv (Python 3.11) if missing and install everything, lava-nc included.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAVA   := lava-nc==0.10.0
PYTEST_ARGS ?=

.PHONY: install demo test test-fast test-all bench clean clean-numba

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	# lava-nc 0.10.0 declares Python<3.11; its dependencies came in above, it comes in here.
	$(PY) -m pip install -q --no-deps --ignore-requires-python $(LAVA)
	$(PY) -m pip check || true
	$(PY) -c "import backends.lava.compat as c; c.import_lava(); print('lava-nc importable')"
	@touch $(STAMP)

demo: install
	$(PY) -m neuromap.demo

# `make test`: the default suite (minutes on 2 cores); tests marked `slow` (big randomized Lava
# sweeps, full-length seed experiments) run with `make test-all`.
test: install
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow and not lava" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q -m "" $(PYTEST_ARGS)

# NEST (benchmark-only, never a dependency of neuromap) is installed here, not by `make install`.
bench: install
	$(PY) -m pip install -q -c constraints.txt -r bench/requirements.txt
	$(PY) -m bench.run

clean: clean-numba
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis build *.egg-info

# numba's on-disk cache (cache=True) does not notice edits to @njit helpers imported from another
# module (e.g. emulator.engine_numba.deliver inlined into emulator.plastic_numba._run): clear it after such edits.
clean-numba:
	find emulator neuromap backends -name '*.nbi' -delete -o -name '*.nbc' -delete
