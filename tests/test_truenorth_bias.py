"""TrueNorth: a leaky lif with a bias current (refused before issue 19) is driven through an always-on axon,
as TrueNorth corelets drive a bias. Hand-computed ticks from the equations of docs/truenorth.md."""
from __future__ import annotations

import math

import numpy as np
import pytest

from backends.emulator import run
from neuromap.compiler import compile_network
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
    lam = -round((1 - a) * round(s) * LEAK_AT)
    p = hw.populations["out"].neuron
    assert (p["alpha"], p["lambda"], p["epsilon"], p["gamma"], p["v_init"]) == (round(s), lam, True, 0, 255)
    on = hw.populations[ALWAYS_ON]
    assert on.size == 1 and (on.neuron["lambda"], on.neuron["alpha"], on.neuron["R"]) == (1, 1, 0)
    (pr,) = [x for x in hw.projections if x.name == BIAS_PREFIX + "out"]
    assert (pr.pre, pr.post, pr.weight.tolist(), pr.delay.tolist()) == (ALWAYS_ON, "out", [255.0], [1])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_biased_neuron_ticks_by_hand(engine):
    img = compile_network(_biased(), TN, tn_time_limit=0.5)
    q = img.options["truenorth"]["quantization"]["populations"][0]
    alpha, lam, B = q["alpha"], -q["lam"], q["bias_axon_weight"]
    assert (alpha, lam, B) == (2614, 96, 255)
    # V after tick t (from 0 or a reset): V + B (always-on axon; V0 = B stands in at tick 0) - |lambda|
    # (leak reversal toward 0) -> (k) (B - |lambda|) after k ticks; fire at >= alpha, reset to 0
    k = -(-alpha // (B - lam))                 # 17 ticks per spike
    res = run(img, 60, engine=engine)
    assert res.spikes["out"][:, 0].tolist() == [k - 1, 2 * k - 1, 3 * k - 1]
    v = res.v["out"][:, 0]
    assert v[:5].tolist() == [(t + 1) * (B - lam) for t in range(5)] and v[k - 1] == 0
    # float: v_k = 2 (1 - a^k) >= 1 first at k = 14 steps: 71 spikes in 1000 steps (13, 27, ..., 993); the
    # chip: 58 (16, 33, ..., 985). The compile's rate estimate reports exactly that difference.
    r = img.options["fidelity"]["rate"]
    assert (r["populations"][0]["spikes_ref"], r["populations"][0]["spikes_hw"]) == (71, 58)
    assert r["max_rel_error"] == pytest.approx(13 / 71)


def test_one_always_on_neuron_per_core_and_no_splitters():
    img = compile_network(_biased(size=300, bias=1.5), TN, tn_time_limit=0.5)
    on = img.population(ALWAYS_ON)
    assert on.size == 2                                             # 300 neurons on 2 cores of 256
    assert img.options["truenorth"]["fanout"]["splitters"] == 0
    f = img.options["fidelity"]
    assert not f["bias_dropped"] and any("always-on axon of weight" in x for x in f["approximations"])
    res = run(img, 40, engine="numba")
    t, i = res.spikes["out"][:, 0], res.spikes["out"][:, 1]
    assert np.unique(i).size == 300 and np.unique(t).size == 1     # every neuron, the same tick, both cores


@pytest.mark.lava
def test_biased_image_runs_identically_in_lava():
    from backends.lava.compat import lava_available
    if not lava_available():
        pytest.skip("lava-nc not installed")
    from neuromap.validate import validate_image
    net = _biased(size=3, bias=1.5)
    net.add_population("inp", 2, {"model": "spike_source", "times": [[0, 3, 4], [2, 9]]})
    net.connect("inp", "out", "all_to_all", weight=0.3)
    img = compile_network(net, TN, tn_time_limit=0.5)
    assert validate_image(img, 40).startswith("identical: 40 steps")
