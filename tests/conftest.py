"""Shared fixtures (every test under tests/ sees them).

- ``engine``: one :class:`tests.helpers.engines.Engine` per engine that runs Loihi-style images (numpy, numba,
  lava): a test that takes it is a conformance test and runs once per engine; the Lava variant is marked
  ``lava`` and skipped with the reason when lava-nc is not installed. ``emulator_engine``: numpy and numba
  only (tests of emulator internals such as chunking, or of arithmetic Lava does not run). ``tn_engine``: the
  TrueNorth core emulator's numpy, numba and scalar reference engines. ``loihi_learning``: one Loihi learning
  step, the engine's kernel and the array reference of Lava's model (tests/oracles/loihi_learning.py).
- images that several test files compile from the same example are compiled once per test session (once
  per xdist worker) and treated as read-only by the tests that use them.

Shared helpers that are not fixtures are modules of tests/helpers/ (hypothesis strategies:
``tests.helpers.strategies``, since fixtures cannot feed ``@given``); scalar oracles are in tests/oracles/.
Where a test goes: DEVELOPERS.md, *Tests*.
"""
from __future__ import annotations

import pytest

from backends.lava.compat import lava_available
from tests.helpers.engines import (
    EMULATOR_ENGINES,
    ENGINE_NAMES,
    LOIHI_LEARNING,
    TN_ENGINES,
    Engine,
    loihi_learning_step,
)

_LAVA = pytest.param("lava", marks=[pytest.mark.lava, pytest.mark.skipif(
    not lava_available(), reason="needs lava-nc (not installed: core-only venv)")])


@pytest.fixture(scope="session", params=[_LAVA if n == "lava" else n for n in ENGINE_NAMES])
def engine(request) -> Engine:
    """numpy, numba and lava (see the module docstring)."""
    return Engine(request.param)


@pytest.fixture(scope="session", params=EMULATOR_ENGINES)
def emulator_engine(request) -> Engine:
    """The emulator's numpy and numba engines."""
    return Engine(request.param)


@pytest.fixture(scope="session", params=TN_ENGINES)
def tn_engine(request) -> str:
    """The TrueNorth core emulator's engines (``emulator.truenorth.run(engine=...)``): numpy, numba, reference."""
    return request.param


@pytest.fixture(scope="session", params=LOIHI_LEARNING)
def loihi_learning(request):
    """One Loihi learning step per implementation: the engine's kernel and the array reference of Lava's
    model (``tests.helpers.engines.loihi_learning_step``)."""
    return loihi_learning_step(request.param)


@pytest.fixture(scope="session")
def small_sheet_build(tmp_path_factory):
    """``examples/spatial_balanced_ei.py:small`` compiled for loihi (cpsat, small budget) and run 300 steps
    on the emulator: ``(build dir, results .npz)``."""
    from backends.emulator import run
    from neuromap.io import load_network
    from neuromap.toolchain import compile_network

    d = tmp_path_factory.mktemp("small_sheet")
    img = compile_network(load_network("examples/spatial_balanced_ei.py:small"), target="loihi", time_limit=0.5).image
    img.save(d / "build")
    run(img, 300).save(d / "results.npz")
    return d / "build", d / "results.npz"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Without lava-nc (the core-only numpy-2 venv of `make test-numpy2`), a test that stops on
    :class:`LavaMissingError` (it compiles a Lava rule string or runs Lava) is reported as skipped
    with that reason instead of failed; with lava-nc installed nothing changes."""
    outcome = yield
    rep = outcome.get_result()
    if call.excinfo is None or rep.passed:
        return
    from backends.lava.compat import LavaMissingError, lava_available
    if call.excinfo.errisinstance(LavaMissingError) and not lava_available():
        rep.outcome = "skipped"
        rep.longrepr = (str(item.path), item.location[1] or 0, "needs lava-nc (not installed: core-only venv)")
