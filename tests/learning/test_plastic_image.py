"""Plastic hardware-unit networks end to end on the emulator: rules in network files -> image learning ->
learning in the emulator loop (numpy == numba), weights written back into delivery, image round trip,
one-line errors for bad learning parameters."""
import dataclasses

import numpy as np
import pytest

from backends.lava.compat import lava_available
from emulator import emulate
from neuromap.toolchain import compile_network
from neuromap.errors import ImageError, NeuromapError, TargetError
from neuromap.image import load_image
from neuromap.network import Network


def one_synapse(rule, steps=7, times=(0, 2, 4), w=10, exp=0, **lif):
    """One spike source -> one loihi_lif neuron (du = 4095: u holds only this step's input)."""
    net = Network()
    net.add_population("i", 1, neuron="spike_source", times=[list(times)])
    net.add_population("n", 1, neuron="loihi_lif", du=4095, dv=0, vth=lif.get("vth", 131071))
    net.connect("i", "n", connect={"rule": "all_to_all"}, weight=w, weight_exp=exp, sign_mode="mixed",
                plasticity=rule)
    net.add_probe("n", ("u", "v"))
    return net


@pytest.mark.parametrize("exp, expected", [(0, [10, 11, 12]), (1, [20, 22, 24]), (-1, [5, 5, 6])])
def test_learned_weight_reaches_delivery_next_step(exp, expected):
    # dw = x0: +1 (accumulator +128 = exactly one weight unit, no rounding) at the end of every step with
    # a pre spike; delivery of step t uses the weight learned up to t - 1, shifted by weight_exp
    # (floor of the per-post sum for exp < 0: 11 >> 1 = 5)
    img = compile_network(one_synapse({"rule": "loihi", "dw": "2^0 * x0"}, w=10, exp=exp)).image
    assert img.projections[0].learning["engine"] == "loihi"
    for eng in ("numpy", "numba"):
        r = emulate(img, 7, eng, weight_every=1)
        assert r.u[[1, 3, 5], 0].tolist() == [x << 6 for x in expected]
        assert r.weights[0][:, 0].tolist() == [11, 11, 12, 12, 13, 13, 13]
        assert r.weight_steps.tolist() == list(range(7))


def test_post_dependency_and_saturation():
    # dw = -4 * y0 (-4 * 128 per post spike; 8 * 2^-1 normalised by Lava's parser is exact): the neuron
    # fires on every input (w 100 << 6 > vth 50 << 6), so the weight drops 4 per input spike ...
    net = one_synapse({"rule": "loihi", "dw": "-4 * y0"}, w=100, times=(0, 2, 4, 6, 8), vth=50)
    r = emulate(compile_network(net).image, 10, "numba")
    assert r.spikes[r.spikes[:, 1] == 0, 0].tolist() == [1, 3, 5, 7, 9]
    assert r.weights[0][-1, 0] == 100 - 4 * 5
    # ... and an excitatory projection saturates at 0 (8 b + sign range per sign mode)
    net = one_synapse({"rule": "loihi", "dw": "-4 * y0"}, w=6, times=(0, 2, 4), vth=1)
    net.projections[0].hw["sign_mode"] = "excitatory"
    img = compile_network(net).image
    assert emulate(img, 6, "numpy").weights[0][-1, 0] == 0


def small_stdp_net(seed=5, n_in=12, n_out=6, steps_rate=80.0, rule=None):
    net = Network(seed=seed)
    net.add_population("i", n_in, neuron="poisson", rate=steps_rate)
    net.add_population("n", n_out, neuron="loihi_lif", du=1000, dv=400, vth=200)
    net.connect("i", "n", connect={"rule": "fixed_probability", "p": 0.6}, weight={"uniform_int": [20, 90]},
                sign_mode="mixed", plasticity=rule or {"rule": "stdp_loihi", "learning_rate": 1, "A_plus": 1, "A_minus": -1,
                                    "tau_plus": 8, "tau_minus": 8, "t_epoch": 2, "rng_seed": 3})
    net.add_probe("n", ("u", "v"))
    return net


def test_numpy_equals_numba_and_image_round_trip(tmp_path):
    img = compile_network(small_stdp_net()).image
    a = emulate(img, 150, "numpy", weight_every=10)
    img2 = load_image(img.save(tmp_path / "img"))
    assert img2.projections[0].learning == img.projections[0].learning
    b = emulate(img2, 150, "numba", weight_every=10)
    assert np.array_equal(a.spikes, b.spikes) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.weights[0], b.weights[0]) and a.weights[0].shape == (15, img.n_synapses)
    assert not np.array_equal(a.weights[0][-1], img.synapses["weight"])   # it learned
    static = dataclasses.replace(img, projections=[dataclasses.replace(img.projections[0], learning=None)])
    assert not np.array_equal(emulate(static, 150, "numba").spikes, a.spikes)


@pytest.mark.parametrize("rule, match", [
    pytest.param({"rule": "loihi", "dw": "2^-2 * x1 * (y0"}, r"projections\[0\] \(i_to_n\)\.plasticity\.dw: cannot parse",
                 marks=pytest.mark.skipif(not lava_available(), reason="rule strings are parsed by lava-nc (core-only venv)")),
    ({"rule": "loihi"}, r"plasticity\.dw: no learning rule given"),
    ({"rule": "loihi", "dw": "x0", "t_epoch": 64}, r"plasticity\.t_epoch: 64 is out of range"),
    ({"rule": "stdp_loihi", "learning_rate": 1, "A_plus": 1, "A_minus": -1, "tau_plus": -2, "tau_minus": 3},
     r"plasticity\.tau_plus: -2\.0 is out of range"),
    ({"rule": "stdp_loihi", "A_plus": 1, "A_minus": -1, "tau_plus": 2, "tau_minus": 3},
     r"plasticity\.learning_rate: missing required parameter"),
])
def test_bad_learning_parameters_give_one_line_errors(rule, match):
    with pytest.raises(NeuromapError, match=match) as e:
        compile_network(small_stdp_net(rule=rule)).image
    assert "\n" not in str(e.value)


def test_hardware_rules_say_where_they_run():
    from neuromap import simulate
    from neuromap.compiler.check import find_problems
    from neuromap.targets import load_target
    (pb,) = [p for p in find_problems(small_stdp_net(), load_target("truenorth")) if "plasticity" in p.item]
    assert pb.severity == "error" and "runs only on the Loihi learning engine" in pb.reason
    flt = Network()
    flt.add_population("i", 2, neuron="poisson", rate=10.0)
    flt.add_population("n", 2, neuron="lif")
    flt.connect("i", "n", weight=1.0, plasticity={"rule": "stdp_loihi", "learning_rate": 1, "A_plus": 1,
                                                 "A_minus": -1, "tau_plus": 2, "tau_minus": 3})
    with pytest.raises(TargetError, match="post population 'n' is not"):
        compile_network(flt).image
    with pytest.raises(TargetError, match="runs only on the learning engine"):
        simulate(flt, 5)


def test_image_verify_checks_learning():
    img = compile_network(small_stdp_net()).image
    pm = img.projections[0]
    for bad, match in [({**pm.learning, "sign_mode": "inhibitory"}, "learning sign_mode"),
                       ({**pm.learning, "t_epoch": 0}, "t_epoch 0"),
                       ({k: v for k, v in pm.learning.items() if k != "engine"}, "naming its engine"),
                       ({**pm.learning, "dw": None}, "no dw, dd or dt")]:
        with pytest.raises(ImageError, match=match):
            dataclasses.replace(img, projections=[dataclasses.replace(pm, learning=bad)]).verify()
    with pytest.raises(ImageError, match="tag_1"):
        dataclasses.replace(img, projections=[dataclasses.replace(
            pm, learning_arrays={"tag_1": np.zeros(3, np.int16)})]).verify()
    with pytest.raises(ImageError, match="learning engine .nope. is unknown"):
        emulate(dataclasses.replace(img, projections=[dataclasses.replace(
            pm, learning={"engine": "nope"})]), 3, "numpy")


YAML = """
format: neuromap/1
seed: 2
populations:
  i: {size: 6, neuron: {model: poisson, rate: 80.0}}
  n: {size: 3, neuron: {model: loihi_lif, du: 800, dv: 300, vth: 150}}
projections:
- pre: i
  post: n
  connect: {rule: all_to_all}
  weight: {uniform_int: [20, 80]}
  sign_mode: mixed
  plasticity: {rule: stdp_loihi, learning_rate: 0.0625, A_plus: 1, A_minus: -1, tau_plus: %s, tau_minus: 10}
"""


def test_network_file_with_learning(tmp_path):
    from neuromap.io import load_network
    (tmp_path / "ok.yaml").write_text(YAML % "10")
    img = compile_network(load_network(tmp_path / "ok.yaml")).image
    lr = img.projections[0].learning
    assert lr["rules"]["dw"] == "(1) * 2 ^ -4 * (-1) * x0 * y1 +(1) * 2 ^ -4 * (1) * y0 * x1"
    assert (lr["x1_tau"], lr["y1_tau"], lr["x1_impulse"], lr["sign_mode"]) == (10.0, 10.0, 16.0, "mixed")
    r = emulate(img, 100, "numba")
    assert r.weights[0].shape == (1, 18) and np.any(r.weights[0][-1] != img.synapses["weight"])
    (tmp_path / "bad.yaml").write_text(YAML % "-3")
    with pytest.raises(NeuromapError, match=r"bad\.yaml: projections\[0\]\.plasticity\.tau_plus: -3\.0 is out "
                                            r"of range \(use a number >= 0\.0\)$"):
        load_network(tmp_path / "bad.yaml")
