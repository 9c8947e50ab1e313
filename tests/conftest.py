"""Shared fixtures: images that several test files compile from the same example are compiled once per
test session (once per xdist worker) and treated as read-only by the tests that use them."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_sheet_build(tmp_path_factory):
    """``examples/spatial_balanced_ei.py:small`` compiled for loihi (cpsat, small budget) and run 300 steps
    on the emulator: ``(build dir, results .npz)``."""
    from backends.emulator import run
    from neuromap.compiler import compile_network
    from neuromap.io import load_network

    d = tmp_path_factory.mktemp("small_sheet")
    img = compile_network(load_network("examples/spatial_balanced_ei.py:small"), target="loihi", time_limit=0.5)
    img.save(d / "build")
    run(img, 300).save(d / "results.npz")
    return d / "build", d / "results.npz"
