"""urbanczik_senn rule and two_compartment neuron: closed-form weights, time- vs event-driven equality, learning."""
from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

import neuromap
from neuromap.params import validate_params
from neuromap.plasticity import rule_class

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from urbanczik_senn import learning_curve  # noqa: E402


@pytest.mark.parametrize("update", ["time", "event"])
def test_closed_form_U4(update):
    """W(T) = W0 + eta sum_k PI(k)(1 - exp(-(T-k)/tau_Delta)), PI = (n - phi dt) h s*, pre spikes at 0 and 3."""
    rc = rule_class("urbanczik_senn")
    p = validate_params(rc.PARAMS, dict(eta=2.0, tau_Delta=4.0, tau_L=2.0, tau_s=1.0, update=update,
                                        history=3), "t")
    r = rc(p, np.array([0]), np.array([0]), 1, 1, 1.0)
    r.pre_state = {"spiked": np.zeros(1, bool)}
    w = np.array([0.3])
    T, pre, post = 7, (0, 3), (2, 5)
    for k in range(T + 1):
        r.step(w, np.array([k in pre]), np.array([k in post]), {"phi_pred": np.array([0.1]),
                                                                "h_pred": np.array([0.5])})
    r.finish(w)
    expect = 0.3
    for k in range(T + 1):
        s = sum(1.0 * (math.exp(-(k - f) / 2.0) - math.exp(-(k - f))) for f in pre if f <= k)  # norm = 1/(2-1)
        pi = ((k in post) - 0.1) * 0.5 * s
        expect += 2.0 * pi * (1.0 - math.exp(-(T - k) / 4.0))
    assert w[0] == pytest.approx(expect, rel=1e-12)
    assert abs(w[0] - 0.3) > 0.05


def _net(update, delay):
    n = neuromap.Network(name="u", dt=0.1, seed=2)
    n.add_population("inp", 30, "poisson", rate=20.0)
    n.add_population("teach", 1, "poisson", rate=200.0)
    n.add_population("post", 2, "two_compartment", seed=3)
    n.connect("inp", "post", "all_to_all", weight={"uniform": [-2.0, 2.0]}, delay=delay, name="d",
              plasticity={"rule": "urbanczik_senn", "update": update, "history": 300, "eta": 5.0})
    n.connect("teach", "post", "all_to_all", weight=5.0, target="soma_exc")
    return n


@pytest.mark.parametrize("delay", [1, {"uniform_int": [1, 20]}])
def test_event_equals_time_driven(delay):
    rt = neuromap.simulate(_net("time", delay), 3000)
    re_ = neuromap.simulate(_net("event", delay), 3000)
    assert rt.spikes["post"][1].size >= 5
    for a, b in zip(rt.spikes["post"], re_.spikes["post"]):
        np.testing.assert_array_equal(a, b)
    assert np.abs(rt.weights["d"] - _net("time", delay).projections[0].weight).max() > 0.1
    np.testing.assert_allclose(re_.weights["d"], rt.weights["d"], rtol=0, atol=1e-12)


def test_two_compartment_prediction_state():
    """V_w* = (g_L E_L + g_D V_w)/(g_L + g_D); phi and h as (T3), (T6); dendritic PSP peak of a unit weight."""
    net = neuromap.Network(name="t", dt=0.1, seed=1)
    net.add_population("s", 1, "spike_source", times=[[0.0]])
    net.add_population("post", 1, "two_compartment")
    net.connect("s", "post", "all_to_all", weight=10.0, delay=1)
    net.add_probe("post", ["v_dend", "v_pred", "phi_pred", "h_pred"])
    tr = neuromap.simulate(net, 300).traces["post"]
    vw, vp = tr["v_dend"][:, 0], tr["v_pred"][:, 0]
    np.testing.assert_allclose(vp, (30.0 * -70.0 + 20.0 * vw) / 50.0, rtol=1e-14)
    phi = 0.15 / (1.0 + 0.5 * np.exp((-55.0 - vp) / 3.0))
    np.testing.assert_allclose(tr["phi_pred"][:, 0], phi, rtol=1e-13)
    np.testing.assert_allclose(tr["h_pred"][:, 0], (1.0 - phi / 0.15) / 3.0, rtol=1e-13)
    tpk = math.log(10.0 / 3.0) / (1 / 3.0 - 1 / 10.0)              # PSP peak of tau_s/(tau_L-tau_s)(e^-t/10 - e^-t/3)
    peak = 10.0 * 3.0 / 7.0 * (math.exp(-tpk / 10.0) - math.exp(-tpk / 3.0))
    assert vw.max() + 70.0 == pytest.approx(peak, rel=2e-3)


def test_learning_error_decreases():
    """Seed 001 Fig. 4: dendritic weights learn to predict the somatic teaching signal; without learning they don't."""
    on = learning_curve(eta=20.0, t_ms=6000.0, window_ms=2000.0)
    off = learning_curve(eta=0.0, t_ms=6000.0, window_ms=2000.0)
    assert on["error"][-1] < 0.5 * on["error"][0]
    assert off["error"][-1] > 0.5 * off["error"][0]
    assert on["error"][-1] < 0.5 * off["error"][-1]
    assert on["corr"] > 0.2
