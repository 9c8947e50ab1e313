"""Plastic images in Lava: LearningDense/LearningSparse with the image's rule, bit-identical to the emulator
(spikes every step, weights every few steps), `neuromap validate` on a plastic build, the exported script,
and one-line refusals for what Lava's learning processes cannot run exactly."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from backends.lava.compat import lava_available
from neuromap.errors import ImageError, ValidationMismatch
from neuromap.network import Network
from neuromap.toolchain import compile_network

STDP = {"rule": "stdp_loihi", "learning_rate": 1, "A_plus": 2, "A_minus": -2, "tau_plus": 10, "tau_minus": 10,
        "t_epoch": 2, "rng_seed": 4}
RULE = {"rule": "loihi", "dw": "2^-3 * x1 * y0 - 2^-4 * y2 * x0 + 2^-5 * y3 * x0 * x2", "x1_impulse": 20.5,
        "x1_tau": 6, "x2_impulse": 7.3, "x2_tau": 12, "y2_impulse": 11, "y2_tau": 4, "y3_impulse": 30,
        "y3_tau": 20, "t_epoch": 3, "rng_seed": 9}


def plastic_net(seed=1, conn=None, exp=-1, delay=1, sign_mode="mixed", weight=None, rule=None):
    """inputs -(STDPLoihi, sparse unless conn says otherwise)-> a -(Lava-syntax rule, all pairs)-> b,
    and a static inhibitory b -> a (a closed loop: learning changes the spikes that drive learning)."""
    n = Network(seed=seed)
    n.add_population("i", 8, neuron="poisson", rate=90.0)
    n.add_population("a", 5, neuron="loihi_lif", du=900, dv=500, vth=150)
    n.add_population("b", 4, neuron="loihi_lif", du=1500, dv=300, vth=120)
    n.connect("i", "a", connect=conn or {"rule": "fixed_probability", "p": 0.5},
              weight=weight or {"uniform_int": [30, 110]}, sign_mode=sign_mode, weight_exp=exp, delay=delay,
              plasticity=rule or STDP)
    n.connect("a", "b", connect={"rule": "all_to_all"}, weight={"uniform_int": [-40, 120]}, sign_mode="mixed",
              plasticity=RULE)
    n.connect("b", "a", connect={"rule": "all_to_all"}, weight=-30, sign_mode="mixed")
    n.add_probe("a", ("u", "v"))
    return n


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_cli_validate_plastic_build_identical(tmp_path, capsys, seed):
    from backends.lava.plan import plan_image
    from neuromap.cli import main
    img = compile_network(plastic_net(seed)).image
    kinds = [c.dense for c in plan_image(img).connections if c.learning]
    assert kinds == [False, True]          # LearningSparse (10 % of pairs missing) and LearningDense
    img.save(tmp_path / "b")
    with pytest.raises(SystemExit) as e:
        main(["validate", str(tmp_path / "b"), "--steps", "60", "--weight-every", "7", "--quiet"])
    out = capsys.readouterr().out.strip()
    assert e.value.code == 0, out
    n_syn = img.n_synapses - 4 * 5          # the static b -> a synapses are not plastic
    first = out.splitlines()[0]                 # then the time split line
    assert first.startswith("identical: 60 steps, ") and first.endswith(f", {n_syn} plastic weights at 9 steps")


def test_weight_divergence_is_reported_with_step_projection_synapse():
    from backends.emulator import run
    from neuromap.validate import check_identical
    img = compile_network(plastic_net(3)).image
    a = run(img, 30, "numpy", weight_every=10)
    b = dataclasses.replace(a, weights={k: w.copy() for k, w in a.weights.items()})
    b.weights["a_to_b"][1, 5] += 1
    with pytest.raises(ValidationMismatch, match=r"step 19: projection 'a_to_b' synapse 5 weight: emulator "
                                                 rf"{a.weights['a_to_b'][1, 5]}, lava {b.weights['a_to_b'][1, 5]}"):
        check_identical(a, b)
    assert np.array_equal(a.weight_steps, [9, 19, 29])
    assert check_identical(a, run(img, 30, "numba", weight_every=10)).endswith("at 3 steps")


def test_results_file_keeps_weights(tmp_path):
    from backends.emulator import load_results, run
    img = compile_network(plastic_net(4)).image
    r = run(img, 12, "numba", weight_every=5)
    back = load_results(r.save(tmp_path / "r.npz"))
    assert back.weight_steps.tolist() == [4, 9, 11]
    assert set(back.weights) == {"i_to_a", "a_to_b"}
    assert all(np.array_equal(back.weights[k], r.weights[k]) for k in r.weights)


@pytest.mark.parametrize("kw, match", [
    ({"delay": 2}, "delays > 1 step have no Lava process"),
    ({"sign_mode": "excitatory"}, "sign_mode excitatory"),
    ({"weight": {"uniform_int": [0, 1]}}, "a stored weight is 0"),
])
def test_lava_refuses_plastic_connections_it_cannot_run_exactly(kw, match):
    from backends.lava.plan import plan_image
    img = compile_network(plastic_net(5, **kw)).image
    with pytest.raises(ImageError, match=match) as e:
        plan_image(img)
    assert "\n" not in str(e.value) and "i_to_a" in str(e.value)
    # every pair connected: LearningDense has none of these limits except delays
    if "delay" not in kw:
        plan_image(compile_network(plastic_net(5, conn={"rule": "all_to_all"}, **kw)).image)


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_exported_script_learns_like_the_emulator(tmp_path):
    from backends.lava.export import export_script
    from emulator import emulate
    img = compile_network(plastic_net(6)).image
    script, _ = export_script(img, tmp_path / "net_lava.py", steps=40)
    text = script.read_text()
    assert "LearningSparse(" in text and "LearningDense(" in text and ".s_in_bap)" in text
    run = subprocess.run([sys.executable, str(script), "--out", "res.npz"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    got = np.load(tmp_path / "res.npz")
    emu = emulate(img, 40, "numba")
    assert np.array_equal(got["spikes"], emu.spikes)
    for k, pm in enumerate(img.projections):
        if pm.learning:
            assert np.array_equal(got[f"weights/{pm.name}"], emu.weights[k][-1])


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_random_plastic_networks_identical_to_lava():
    """Random closed-loop networks, rules, epochs, weight exponents, Dense/Sparse learning: spikes, v and
    weights (every 5 steps) identical in Lava and on the emulator (numpy and numba)."""
    from hypothesis import given, settings, strategies as st

    from backends.emulator import run
    from backends.lava.run import run as run_lava
    from neuromap.validate import check_identical, probe_everything

    terms = ["x1 * y0", "y1 * x0", "x2 * y0", "y2 * x0", "y3 * x0", "x1 * y2 * x0", "y0", "x0", "u0 * x1"]

    @given(st.integers(0, 10 ** 6), st.lists(st.sampled_from(terms), min_size=1, max_size=3, unique=True),
           st.lists(st.sampled_from(["2^-2", "-2^-3", "2^-4", "-2^-1", "3 * 2^-3"]), min_size=3, max_size=3),
           st.integers(1, 4), st.integers(-2, 2), st.booleans())
    @settings(max_examples=10, deadline=None, derandomize=True)
    def check(seed, prods, scales, t_epoch, exp, complete):
        dw = " ".join(("- " + s[1:] if s[0] == "-" else "+ " + s) + " * " + p for s, p in zip(scales, prods))
        rule = {"rule": "loihi", "dw": dw.removeprefix("+ "),
                "x1_impulse": 12.5, "x1_tau": 5, "x2_impulse": 30, "x2_tau": 9, "y1_impulse": 16, "y1_tau": 7,
                "y2_impulse": 3.7, "y2_tau": 3, "y3_impulse": 60, "y3_tau": 25, "t_epoch": t_epoch,
                "rng_seed": seed % 97}
        net = plastic_net(seed, conn={"rule": "all_to_all"} if complete else None, exp=exp, rule=rule)
        img = probe_everything(compile_network(net).image)
        lava = run_lava(img, 40, weight_every=5)
        for eng in ("numpy", "numba"):
            check_identical(run(img, 40, eng, weight_every=5), lava)

    check()
