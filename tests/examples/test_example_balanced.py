"""Seed 004 experiment through neuromap.simulate: ISP brings the E rate to rho0."""
import os
import sys

import numpy as np
import pytest

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
sys.path.insert(0, EX)
import balanced_ei  # noqa: E402


def test_static_network_fires_far_above_target():
    r = balanced_ei.run(steps=2000, plastic=False)
    assert r["E"].mean() > 30.0                                  # measured ~45 Hz


@pytest.mark.parametrize("rho0", [5.0, 10.0])
def test_isp_converges_to_target_rate(rho0, monkeypatch):
    monkeypatch.setitem(balanced_ei.ISP, "rho0", rho0)
    r = balanced_ei.run(steps=8000)
    assert r["E"][0] > rho0 + 3.0                                # starts clearly above the target
    final = r["E"][-2:].mean()                                   # last 2 s; measured 5.6 and 10.4 Hz
    assert abs(final - rho0) < 1.5


def test_yaml_is_the_same_network():
    from neuromap.io import load_network
    assert load_network(os.path.join(EX, "balanced_ei.yaml")) == balanced_ei.build()
    assert np.isclose(balanced_ei.ISP["eta"], 0.05)
