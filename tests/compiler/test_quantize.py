"""Quantization pass: hand-computed decays, exponents, clipped/zeroed counts, and float == emulator where exact."""
import json
import math

import numpy as np
import pytest

import neuromap
from neuromap.compiler.quantize import (
    DU_OFFSET,
    _Fields,
    decay_constant,
    encode_bias,
    quantize_network,
    quantize_weights,
)
from neuromap.errors import TargetError
from neuromap.targets import load_target

LOIHI = load_target("loihi")
F = _Fields.of(LOIHI)


def test_decays_hand_computed():
    # 4096 * (1 - exp(-1/5)) = 742.48 -> 742; Lava adds ds_offset 1 to du -> du = 741
    assert decay_constant(1.0, 5.0) == 742
    # 4096 * (1 - exp(-1/20)) = 199.78 -> 200
    assert decay_constant(1.0, 20.0) == 200
    net = neuromap.Network(dt=1.0)
    net.add_population("p", 2, "lif", tau_m=20.0, tau_syn=5.0, v_th=2.0, v_reset=0.5)
    hw, rep = quantize_network(net, LOIHI)
    n = hw.populations["p"].neuron
    assert (n["du"], n["dv"]) == (742 - DU_OFFSET, 200)
    pq = rep.populations[0]
    # threshold 2**22 (1 headroom bit of the 24-bit v), vth = 2**22 >> 6
    assert n["vth"] == 65536 and pq.v_scale == pytest.approx(2 ** 22 / 1.5)
    assert pq.tau_syn_hw == pytest.approx(-1.0 / math.log((4096 - 742) / 4096))
    assert pq.decay_v_rel_error == pytest.approx(abs(200 / 4096 - (1 - math.exp(-0.05))) / (1 - math.exp(-0.05)))


def test_exponent_choice_and_effective_bits():
    # 12800 = 25 << (3 + 6): exact at e = 0..3; ties go to the largest exponent (smallest mantissa)
    q = quantize_weights(np.array([12800.0, 12800.0]), F)
    assert (q["exp"], list(q["mantissa"]), q["bits"], q["sign_mode"]) == (3, [25, 25], 8, "excitatory")
    # 64 << 6 = 4096: exact as 1 << (6 + 6) with 1 bit... 1 needs all 8 bits of precision (step 1)
    q = quantize_weights(np.array([4096.0 * 96]), F)      # 96 << 12 = 3 << 17 -> e = 7, m = 48? 3<<17 = 48<<13
    assert q["exp"] == 7 and q["mantissa"][0] == 48 and q["bits"] == 4  # 48 = 3 * 16: step 16 at 4 bits
    q = quantize_weights(np.array([-640.0, 1280.0]), F)   # mixed: step 2 at 8 bits
    assert q["sign_mode"] == "mixed" and q["mantissa"][0] * 2 ** (q["exp"] + 6) == -640


def test_clipped_and_zeroed_counts():
    big = 255 * 2.0 ** 13                    # largest representable input: 255 << (7 + 6)
    q = quantize_weights(np.array([big, 64.0]), F)
    assert (q["exp"], q["clipped"], q["zeroed"]) == (7, 0, 1)
    q = quantize_weights(np.array([2 * big, big]), F)
    assert (q["exp"], q["clipped"], list(q["mantissa"])) == (7, 1, [255, 255])


def test_stochastic_rounding_is_seeded_and_unbiased():
    x = np.full(20000, 201.3 * 64)  # e = 0: 201.3 (e = -1 needs 402.6 > 255; e >= 1 rounds farther)
    a = quantize_weights(x, F, "stochastic", np.random.default_rng(1))
    b = quantize_weights(x, F, "stochastic", np.random.default_rng(1))
    assert np.array_equal(a["mantissa"], b["mantissa"])
    assert a["exp"] == 0 and set(np.unique(a["mantissa"])) == {201, 202}
    assert abs(a["mantissa"].mean() - 201.3) < 0.02


def test_bias_encoding():
    mant, exp = encode_bias(np.array([4095.0, 4097.0, -20000.0, 0.0]), F)
    assert list(exp) == [0, 1, 3, 0] and list(mant) == [4095, 2048, -2500, 0]
    with pytest.raises(TargetError, match="bias field"):
        encode_bias(np.array([4095.0 * 128 + 100]), F)


def test_all_weights_round_to_zero_is_an_error():
    net = neuromap.Network(dt=1.0)
    net.add_population("i", 2, "spike_source", times=[[1.0], [2.0]])
    net.add_population("o", 1, "lif")
    net.connect("i", "o", weight=1e-12)
    with pytest.raises(TargetError, match="all 2 nonzero weights round to 0"):
        quantize_network(net, LOIHI)


def _drive_net(model: str, **params):
    net = neuromap.Network(name="drive", dt=1.0, seed=0)
    rng = np.random.default_rng(5)
    times = [sorted(rng.choice(200, 30, replace=False).astype(float).tolist()) for _ in range(20)]
    net.add_population("inp", 20, "spike_source", times=times)
    net.add_population("out", 5, model, **params)
    net.connect("inp", "out", weight={"uniform": [0.05, 0.3]}, delay={"uniform_int": [1, 3]})
    net.connect("inp", "out", connect={"rule": "fixed_indegree", "k": 3}, weight=0.2, target="inh", delay=2)
    return net


@pytest.mark.parametrize("model,params", [("lif", dict(tau_m=10.0, tau_syn=3.0, v_th=1.0, v_reset=0.2)),
                                          ("if", dict(v_th=1.5, v_reset=0.0, leak=0.01))])
def test_compiled_network_tracks_float(model, params):
    """Same spikes and voltages (v_hw / s + v_reset) up to weight/decay rounding: v within 1 % of the
    threshold gap until the first spike that moves (a step earlier/later near threshold), and per-neuron
    spike counts within 2 over 200 steps."""
    from emulator import emulate
    from neuromap.toolchain import compile_network
    net = _drive_net(model, **params)
    net.add_probe("out", ["v"])
    ref = neuromap.simulate(net, 200)
    image = compile_network(net, LOIHI).image
    run = emulate(image, 200, engine="numpy", probe=np.arange(5))
    pm = image.population("out")
    sel = (run.spikes[:, 1] >= pm.start) & (run.spikes[:, 1] < pm.start + pm.size)
    hw = set(zip(run.spikes[sel, 0].tolist(), (run.spikes[sel, 1] - pm.start).tolist()))
    fl = set(zip(ref.spikes["out"][0].tolist(), ref.spikes["out"][1].tolist()))
    assert len(fl) > 10
    moved = fl.symmetric_difference(hw)
    count = lambda spikes: np.bincount([i for _, i in spikes], minlength=5)  # noqa: E731
    assert np.max(np.abs(count(hw) - count(fl))) <= 2
    first = min([t for t, _ in moved], default=200)
    s = image.options["quantization"]["populations"][0]["v_scale"]
    v_hw = run.v / s + params["v_reset"]
    gap = params["v_th"] - params["v_reset"]
    assert np.max(np.abs(v_hw[:first] - ref.traces["out"]["v"][:first])) < 0.01 * gap
    rep = image.options["quantization"]
    json.dumps(rep)
    assert {p["name"] for p in rep["projections"]} == {"inp_to_out", "inp_to_out_2"}
    for p, pr in zip(rep["projections"], net.projections):
        # nearest rounding of the mantissa: |error| <= 0.5 mantissa units -> relative 0.5 / (scale * |w|)
        assert 0 < p["max_rel_error"] <= 0.5 / (abs(p["scale"]) * np.abs(pr.weight).min()) * (1 + 1e-9)
        assert p["clipped"] == p["zeroed"] == 0


def test_current_register_does_not_wrap_under_strong_synchronous_input():
    """40 synchronous inputs of 0.5 theta each (20x threshold in one step): u must hold the sum.

    With the threshold at 2**22 u would wrap at 2**23 = 2 theta; the scale is bounded by the current instead."""
    from emulator import emulate
    from neuromap.toolchain import compile_network
    net = neuromap.Network(dt=1.0)
    net.add_population("i", 40, "spike_source", times=[[3.0, 10.0, 11.0, 30.0]] * 40)
    net.add_population("o", 1, "lif", tau_m=0.01, tau_syn=0.5, v_th=1.0)
    net.connect("i", "o", weight=0.5 / (0.5 / (0.5 - 0.01) * (math.exp(-2) - math.exp(-100))))
    image = compile_network(net, LOIHI).image
    assert image.options["quantization"]["populations"][0]["bound_by"] == "current"
    run = emulate(image, 40, engine="numpy")
    hw = run.spikes[run.spikes[:, 1] == 0, 0].tolist()
    # v = p J: 20 theta at arrival, then b = e**-2 of it (2.7 theta) the next step, 0.37 theta after
    assert hw == neuromap.simulate(net, 40).spikes["o"][0].tolist() == [4, 5, 11, 12, 13, 31, 32]


def test_compiled_rounding_equals_the_numpy_arithmetic():
    # the compiled passes of quantize_weights and quantize_network against the numpy expressions they replace
    # (same floats, bit for bit): halves (rint ties to even), clipping on both sides, zeros, subnormal and huge
    # values (the kernels multiply by the reciprocals of powers of two), per-synapse gains
    from neuromap.compiler.quantize import _nearest_mantissas, _relative_errors, _squared_residuals
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 3e4, 4000), (np.arange(-40, 40) + 0.5) * 64.0 * 2,
                        [0.0, -0.0, 1e9, -1e9, 5e-324, -1e-310, 1.7e308]])
    for e, step, lo, hi in [(0, 1, -256, 255), (3, 2, -256, 254), (-2, 4, 0, 252), (7, 1, -255, 0),
                            (-8, 2, -256, 254)]:
        sc = float(2.0 ** (e + 6))
        with np.errstate(over="ignore"):
            raw = np.rint(x / sc / step) * step
        m = np.clip(raw, lo, hi).astype(np.int64)
        got, clipped, zeroed, low = _nearest_mantissas(x, sc, float(step), float(lo), float(hi))
        assert np.array_equal(got, m) and clipped == int(np.sum((raw < lo) | (raw > hi)))
        assert zeroed == int(np.sum((m == 0) & (x != 0))) and low == int(np.bitwise_or.reduce(np.abs(m)))
        r2 = _squared_residuals(x, sc, float(step), float(lo), float(hi))
        with np.errstate(over="ignore"):
            assert r2.tobytes() == ((m * sc - x) ** 2).tobytes()
        w = np.where(rng.random(x.size) < 0.1, 0.0, rng.normal(0, 2, x.size))
        for d in (np.array([-3.7]), rng.uniform(0.5, 2, x.size)):
            nz = w != 0
            ref = np.abs((m * sc / (d if d.size > 1 else d[0]))[nz] - w[nz]) / np.abs(w[nz])
            rel, hit = _relative_errors(m, sc, d, d.size > 1, w)
            assert rel.tobytes() == ref.tobytes() and hit == bool(np.any(m[nz]))
    from neuromap.compiler.quantize import _input_bounds
    post = rng.integers(0, 50, x.size).astype(np.int32)
    for sign in (1.0, -1.0):
        need, acc = np.zeros(50), np.zeros((2, 50))
        _input_bounds(post, x, sign, need, acc[0], acc[1])
        ref_need, ref = np.zeros(50), np.zeros((2, 50))
        np.maximum.at(ref_need, post, np.abs(x))
        np.add.at(ref[0], post, np.maximum(sign * x, 0.0))
        np.add.at(ref[1], post, np.maximum(-(sign * x), 0.0))
        assert need.tobytes() == ref_need.tobytes() and acc.tobytes() == ref.tobytes()
