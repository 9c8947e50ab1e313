"""TrueNorth: a leaky lif with a bias current (refused before issue 19) is driven through an always-on axon,
as TrueNorth corelets drive a bias. Hand-computed ticks from the equations of docs/truenorth.md."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backends.emulator import run
from neuromap.toolchain import compile_network
from neuromap.compiler.quantize_truenorth import ALWAYS_ON, BIAS_PREFIX, LEAK_AT, quantize_truenorth
from neuromap.network import Network
from neuromap.targets import load_target

TN = load_target("truenorth")


def _biased(size: int = 1, bias: float = 2.0, **extra) -> Network:
    net = Network(name="biased", seed=4)
    net.add_population("out", size, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, bias=bias, **extra)
    net.add_probe("out", ["spikes", "v"], neurons=[0])
    return net


def test_bias_becomes_an_always_on_axon_by_hand():
    hw, rep = quantize_truenorth(_biased(), TN)
    a = math.exp(-1 / 20)
    c = 2.0 * (1 - a)                          # drift per step toward v_inf = 2 (float units)
    s = 255 / c                                 # the always-on weight bounds the scale: B = s c = 255
    (q,) = rep.populations
    assert q.mode == "lif-leak-reversal" and q.bound_by == "bias" and q.v_scale == pytest.approx(s)
    assert q.bias_axon_weight == 255 and q.drift_realized == pytest.approx(c)
    # float: v_k = 2 (1 - a^k) >= 1 first at k = 14 steps. Chip: V_k = k (B - |lambda|) from 0 (V0 = B stands
    # in for tick 0); |lambda| = B - ceil(T / 14) = 255 - 187 = 68 gives ceil(2614 / 187) = 14 ticks too.
    assert round(s) == 2614 and -(-2614 // 187) == 14 and -(-2614 // 188) == 14 and 13 * 187 < 2614
    p = hw.populations["out"].neuron
    assert (p["alpha"], p["lambda"], p["epsilon"], p["gamma"], p["v_init"]) == (2614, -68, True, 0, 255)
    on = hw.populations[ALWAYS_ON]
    assert on.size == 1 and (on.neuron["lambda"], on.neuron["alpha"], on.neuron["R"]) == (1, 1, 0)
    (pr,) = [x for x in hw.projections if x.name == BIAS_PREFIX + "out"]
    assert (pr.pre, pr.post, pr.weight.tolist(), pr.delay.tolist()) == (ALWAYS_ON, "out", [255.0], [1])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_biased_neuron_ticks_by_hand(engine):
    img = compile_network(_biased(), TN, tn_time_limit=0.5).image
    q = img.options["truenorth"]["quantization"]["populations"][0]
    alpha, lam, B = q["alpha"], -q["lam"], q["bias_axon_weight"]
    assert (alpha, lam, B) == (2614, 68, 255)
    # V after tick t (from 0 or a reset): V + B (always-on axon; V0 = B stands in at tick 0) - |lambda|
    # (leak reversal toward 0) -> k (B - |lambda|) after k ticks; fire at >= alpha, reset to 0
    k = -(-alpha // (B - lam))                 # 14 ticks per spike, as in float
    res = run(img, 60, engine=engine)
    assert k == 14 and res.spikes["out"][:, 0].tolist() == [13, 27, 41, 55]
    v = res.v["out"][:, 0]
    assert v[:5].tolist() == [(t + 1) * (B - lam) for t in range(5)] and v[k - 1] == 0
    # float: spikes at 13, 27, ..., 993 (71 in 1000 steps); the chip the same: the estimate reports 0
    r = img.options["fidelity"]["rate"]
    assert (r["populations"][0]["spikes_ref"], r["populations"][0]["spikes_hw"]) == (71, 71)
    assert r["max_rel_error"] == 0.0


def _tn_reference(V0: int, B: int, lam: int, alpha: int, R: int, ticks: int) -> tuple[list[int], list[int]]:
    """One leak-reversal neuron from docs/truenorth.md, scalar: V += B (the always-on axon, from tick 1; V0
    holds it for tick 0), V -= sgn(V) |lambda|, spike and set V = R at V >= alpha (kappa = 1, beta huge)."""
    V, vs, spikes = V0, [], []
    for t in range(ticks):
        if t:
            V += B
        V -= (V > 0) * lam - (V < 0) * lam
        if V >= alpha:
            spikes.append(t)
            V = R
        vs.append(V)
    return vs, spikes


def test_subthreshold_bias_puts_v0_at_the_equilibrium_by_hand():
    """v_inf = 0.9 < v_th: V = 0 stands for v = 0.9 (no decay there), reset R = -s 0.9, threshold
    alpha = s 0.1; an always-on axon B splits the leak: V falls |lambda| - B above 0 (the default decay)
    and rises |lambda| + B below it (the float's mean recovery from the reset)."""
    net = _biased(bias=0.9)
    net.add_population("inp", 1, {"model": "spike_source", "times": [[60.0, 61.0, 62.0, 63.0, 64.0]]})
    net.connect("inp", "out", "all_to_all", weight=0.12)
    hw, rep = quantize_truenorth(net, TN)
    (q,) = rep.populations
    a, s = math.exp(-1 / 20), q.v_scale
    T = round(s * 0.1)
    R = round(s * 0.9)
    down = round((1 - a) * T * LEAK_AT)
    up = (R - T) / (math.log(R / T) / (1 / 20))
    lam = round((up + down) / 2)
    assert q.v_origin == pytest.approx(0.9) and (q.alpha, q.R) == (T, -R)
    assert (q.lam, q.bias_axon_weight) == (-lam, lam - down) and lam - down > 0
    img = compile_network(net, TN, tn_time_limit=0.5).image
    res = run(img, 120, engine="numpy")
    p = img.options["truenorth"]["quantization"]["populations"][0]
    assert p["v_origin"] == pytest.approx(0.9)
    vs, spikes = _tn_reference(-R + (lam - down), lam - down, lam, T, -R, 60)   # bias alone for 60 ticks
    assert res.v["out"][:60, 0].tolist() == vs and spikes == []
    assert abs(vs[-1]) <= lam + (lam - down)           # settled at the equilibrium: V = 0 +- one tick
    assert res.spikes["out"].size                       # the input burst at 60..64 makes it fire


def test_one_always_on_neuron_per_core_and_no_splitters():
    img = compile_network(_biased(size=300, bias=1.5), TN, tn_time_limit=0.5).image
    on = img.population(ALWAYS_ON)
    assert on.size == 2                                             # 300 neurons on 2 cores of 256
    assert img.options["truenorth"]["fanout"]["splitters"] == 0
    f = img.options["fidelity"]
    assert not f["bias_dropped"] and any("always-on axon of weight" in x for x in f["approximations"])
    res = run(img, 40, engine="numba")
    t, i = res.spikes["out"][:, 0], res.spikes["out"][:, 1]
    assert np.unique(i).size == 300 and np.unique(t).size == 1     # every neuron, the same tick, both cores


@pytest.mark.lava
@pytest.mark.parametrize("bias", [1.5, 0.9])
def test_biased_image_runs_identically_in_lava(bias):
    from backends.lava.compat import lava_available
    if not lava_available():
        pytest.skip("lava-nc not installed")
    from neuromap.validate import validate_image
    net = _biased(size=3, bias=bias)
    net.add_population("inp", 2, {"model": "spike_source", "times": [[0, 3, 4], [2, 9]]})
    net.connect("inp", "out", "all_to_all", weight=0.3)
    img = compile_network(net, TN, tn_time_limit=0.5).image
    assert validate_image(img, 40).startswith("identical: 40 steps")


def test_equilibrium_below_the_reset_decays_without_an_always_on_axon():
    """v_rest + bias below v_reset: V = 0 is the equilibrium, the reset R = s 0.5 lies above it, so the
    neuron recovers downward with the default leak; no always-on axon."""
    hw, rep = quantize_truenorth(_biased(bias=-0.5), TN)
    (q,) = rep.populations
    assert q.v_origin == pytest.approx(-0.5) and q.R == round(q.v_scale * 0.5) > 0 and q.bias_axon_weight == 0
    assert q.alpha == round(q.v_scale * 1.5) and ALWAYS_ON not in hw.populations
