"""clopath rule and adex neuron: hand-computed steps, time- vs event-driven equality, seed 001 pairing result."""
from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

import neuromap
from neuromap.neurons import adex
from neuromap.params import validate_params
from neuromap.plasticity import rule_class

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from clopath_pairing import pairing_curve  # noqa: E402


def _rule(update, **kw):
    rc = rule_class("clopath")
    p = validate_params(rc.PARAMS, dict(dict(A_LTD=0.1, A_LTP=0.5, theta_minus=0.0, theta_plus=1.0, tau_minus=1.0,
                                             tau_plus=1.0, tau_x=2.0, u_init=0.0, w_min=0.0, w_max=10.0,
                                             update=update, history=4), **kw), "t")
    r = rc(p, np.array([0]), np.array([0]), 1, 1, 1.0)
    r.pre_state = {"spiked": np.zeros(1, bool)}
    return r


@pytest.mark.parametrize("update", ["time", "event"])
def test_hand_computed_three_steps(update):
    """dt = 1 ms, d = e^-1 for u+/-, xbar jumps 1/2 and decays e^-1/2; v = 2, 0, 3 with a pre spike at step 0."""
    r = _rule(update)
    w = np.array([1.0])
    d = math.exp(-1.0)
    um0 = (1 - d) * 2.0                      # u_- = u_+ after step 0
    w_exp = 1.0 - 0.1 * um0                  # LTD at the arrival
    w_exp += 0.5 * (0.5 * (2.0 - 1.0) * um0)   # LTP: xbar = 1/2, (v - 1)(u_+ - 0)
    up2 = um0 * d * d + (1 - d) * 3.0        # step 1 (v = 0 < theta_+): no LTP; step 2: v = 3
    w_exp += 0.5 * math.exp(-1.0) * (0.5 * 2.0 * up2)
    for k, v in enumerate((2.0, 0.0, 3.0)):
        r.step(w, np.array([k == 0]), np.array([False]), {"v": np.array([v])})
    r.finish(w)
    assert w[0] == pytest.approx(w_exp, rel=1e-13)


@pytest.mark.parametrize("update", ["time", "event"])
def test_delay_u_and_clip(update):
    """u_- read 2 steps late: u_init (0) at steps 0, 1 -> no LTD; at step 2 u_-(0) = (1-d)*5; w clipped at 0."""
    r = _rule(update, delay_u=2, A_LTD=1.0, A_LTP=0.0)
    w = np.array([0.5])
    d = math.exp(-1.0)
    for k in range(2):
        r.step(w, np.array([True]), np.array([False]), {"v": np.array([5.0])})
        assert w[0] == 0.5
    r.step(w, np.array([True]), np.array([False]), {"v": np.array([5.0])})
    assert w[0] == 0.0 and (1 - d) * 5.0 > 0.5


def test_adex_clamp_reset_and_jumps():
    p = validate_params(adex.PARAMS, {"clamp": 3}, "t", size=1)
    c, s = adex.constants(p, 1, 0.1), adex.init_state(p, 1)
    refr = np.zeros(1, np.int64)
    assert adex.update(s, c, np.array([[200.0]]), refr)[0]        # a 200 mV jump fires at once
    assert s["v"][0] == 33.0 and s["z"][0] == 400.0 and s["V_T"][0] == -30.4 and s["w"][0] == pytest.approx(0.1 / 144.0 * 4.0 * 200.0 + 80.5)
    vs = []
    for _ in range(3):
        assert not adex.update(s, c, np.zeros((1, 1)), refr)[0]
        vs.append(s["v"][0])
    assert vs == [33.0, 33.0, -49.6]                                 # 3 clamp steps, then V_reset
    # subthreshold Euler step from rest, no input: only the exponential term and z move V
    p = validate_params(adex.PARAMS, {}, "t", size=1)
    c, s = adex.constants(p, 1, 0.1), adex.init_state(p, 1)
    adex.update(s, c, np.zeros((1, 1)), np.zeros(1, np.int64))
    ex = 30.0 * 2.0 * math.exp((-70.6 + 50.4) / 2.0)
    assert s["v"][0] == pytest.approx(-70.6 + 0.1 / 281.0 * ex, rel=1e-14)


def _net(update, delay):
    n = neuromap.Network(name="c", dt=0.1, seed=4)
    n.add_population("inp", 40, "poisson", rate=20.0)
    n.add_population("post", 3, "adex", I_e=500.0)
    n.connect("inp", "post", "all_to_all", weight={"uniform": [0.5, 2.0]}, delay=delay, name="p",
              plasticity={"rule": "clopath", "update": update, "history": 300, "w_max": 3.0, "delay_u": 4})
    return n


@pytest.mark.parametrize("delay", [1, {"uniform_int": [1, 20]}])
def test_event_equals_time_driven(delay):
    rt = neuromap.simulate(_net("time", delay), 3000)
    re_ = neuromap.simulate(_net("event", delay), 3000)
    assert rt.backend == "numpy" and rt.spikes["post"][1].size >= 10
    for a, b in zip(rt.spikes["post"], re_.spikes["post"]):
        np.testing.assert_array_equal(a, b)
    w0 = _net("time", delay).projections[0].weight
    assert np.abs(rt.weights["p"] - w0).max() > 0.01                  # the rule did something
    np.testing.assert_allclose(re_.weights["p"], rt.weights["p"], rtol=0, atol=1e-12)


def test_pairing_seed_figure():
    """Clopath 2010 Fig. 2b: +10 ms potentiates, more at 50 Hz; -10 ms depresses at 20 Hz, potentiates at 50 Hz."""
    c = pairing_curve(freqs=(20.0, 50.0), n_pairs=5)
    (p20, p50), (m20, m50) = c[10.0], c[-10.0]
    assert 1.0 < p20 < p50
    assert m20 < 0.99 and m50 > 1.0
    assert all(a > b for a, b in zip(c[10.0], c[-10.0]))
