# neuromap: the two commands a fresh machine needs are `make demo` and `make test`.
# Both create .venv (Python 3.11) if missing and install everything, lava-nc included.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := PIP_DISABLE_PIP_VERSION_CHECK=1 $(PY) -m pip
LOG    := $(VENV)/install.log
# a step's output goes to $(LOG) and is shown only when the step fails
QUIET   = >>$(LOG) 2>&1 || { cat $(LOG); echo "make install failed; full log: $(LOG)"; exit 1; }
STAMP  := $(VENV)/.installed
LAVA   := lava-nc==0.10.0
# pytest workers (pytest-xdist): 2 fits this project's 2-core machines; PYTEST_WORKERS=0 runs in-process
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
XDIST  := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))

.PHONY: install demo test lint test-fast test-all test-numpy2 warmup chromium bench clean clean-numba

install: $(STAMP)

# Quiet, one line per step; pip's own output appears only when a step fails.
$(STAMP): pyproject.toml constraints.txt
	@echo "[install 1/5] virtual environment $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@: > $(LOG)
	@$(PIP) install -q --upgrade pip $(QUIET)
	@echo "[install 2/5] neuromap + pinned dependencies, MPI included (constraints.txt; a few minutes on a fresh machine)"
	@$(PIP) install -q -c constraints.txt -e '.[test,lava,mpi]' $(QUIET)
	@echo "[install 3/5] lava-nc 0.10.0 (declares Python<3.11: installed with --no-deps; its pins came with [lava])"
	@$(PIP) install -q --no-deps --ignore-requires-python $(LAVA) $(QUIET)
	@$(PIP) check >/dev/null || $(PIP) check || true
	@echo "[install 4/5] checking that lava-nc imports"
	@$(PY) -c "import backends.lava.compat as c; c.import_lava()" $(QUIET)
	@echo "[install 5/5] compiling numba kernels once (cached on disk)"
	@$(PY) -m neuromap.warmup
	@touch $(STAMP)
	@echo "installed: $(VENV) (activate with: source $(VENV)/bin/activate)"

demo: install
	@$(PY) -m neuromap.demo

warmup: install
	@$(PY) -m neuromap.warmup

# The report test renders HTML in headless Chromium (Debian's `chromium`). As root with apt-get,
# `make test` installs it; otherwise that test is skipped with its reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "[test] installing chromium (apt-get) for the report rendering test"; \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || \
	      echo "[test] could not install chromium: the report rendering test will be skipped"; \
	    else echo "[test] chromium not installed (not root): the report rendering test will be skipped"; fi; }

# `make test`: the default suite on $(PYTEST_WORKERS) workers (minutes on 2 cores); tests marked `slow`
# (big randomized Lava sweeps, full-length seed experiments) run with `make test-all`.
test: install chromium lint
	@$(PY) -m neuromap.warmup
	$(PY) -m pytest -q $(XDIST) -m "not slow" $(PYTEST_ARGS)

# the layer contracts ([tool.importlinter] in pyproject.toml, docs/concepts.md *Layers*) and ruff ([tool.ruff]):
# a few seconds
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

test-fast: install
	$(PY) -m pytest -q $(XDIST) -m "not slow and not lava" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q $(XDIST) -m "" $(PYTEST_ARGS)

# The core without Lava on numpy 2 (what `pip install neuromap` gives next to a current PyTorch stack):
# a second venv with constraints-numpy2.txt, the non-Lava tests; its own numba cache (a different numba).
NP2_VENV := .venv-numpy2
NP2_PY   := $(NP2_VENV)/bin/python
test-numpy2: $(NP2_VENV)/.installed
	NUMBA_CACHE_DIR=$(abspath $(NP2_VENV))/numba-cache $(NP2_PY) -m neuromap.warmup
	NUMBA_CACHE_DIR=$(abspath $(NP2_VENV))/numba-cache $(NP2_PY) -m pytest -q $(XDIST) -m "not slow and not lava" \
	  -p no:cacheprovider $(PYTEST_ARGS)

$(NP2_VENV)/.installed: pyproject.toml constraints-numpy2.txt
	@echo "[numpy 2] virtual environment $(NP2_VENV): neuromap core + test tools, no Lava"
	@test -x $(NP2_PY) || $(PYTHON) -m venv $(NP2_VENV)
	@PIP_DISABLE_PIP_VERSION_CHECK=1 $(NP2_PY) -m pip install -q -c constraints-numpy2.txt -e '.[test,mpi]' \
	  >$(NP2_VENV)/install.log 2>&1 || { cat $(NP2_VENV)/install.log; exit 1; }
	@$(NP2_PY) -c "import numpy, numba; print(f'[numpy 2] numpy {numpy.__version__}, numba {numba.__version__}')"
	@touch $@

# NEST (benchmark-only, never a dependency of neuromap) is installed here, not by `make install`.
bench: install
	$(PY) -m pip install -q -c constraints.txt -r bench/requirements.txt
	$(PY) -m bench.run

clean: clean-numba
	rm -rf $(VENV) $(NP2_VENV) demo-out .pytest_cache .hypothesis build *.egg-info

# numba's on-disk cache (cache=True) does not notice edits to @njit helpers imported from another
# module (e.g. emulator.engine_numba.deliver inlined into emulator.plastic_numba._run): clear it after such edits.
clean-numba:
	find emulator neuromap backends -name '*.nbi' -delete -o -name '*.nbc' -delete
	rm -rf emulator/_fused
