"""Per-neuron tau_m / tau_syn / v_th / v_reset on loihi_lif (neuromap/compiler/quantize.py, ``uniform_groups``):
the quantize pass gives each group of equal values its own du/dv/vth and voltage scale, invisibly to the user:
the image keeps one population (results and probes keyed by it), every group's integers are exactly those of
the same neurons compiled as a population of their own, the engines (Lava included: one LIF per group) equal
the scalar oracle, and the emulated spike counts follow the float reference."""
from __future__ import annotations

import numpy as np
import pytest

from backends.emulator import run as emulator_run
from neuromap.compiler.quantize import uniform_groups
from neuromap.errors import TargetError
from neuromap.network import Network
from neuromap.simulator import simulate
from neuromap.toolchain import compile_network
from tests.oracles import loihi_core

TAU_M = [10.0, 20.0, 10.0, 40.0, 20.0, 10.0]
V_TH = [1.0, 1.0, 1.0, 1.5, 1.0, 1.0]
BIAS = [0.0, 0.05, -0.02, 0.0, 0.1, 0.03]


def _net(split: bool, seed: int = 3, steps: int = 200, plastic: bool = False) -> Network:
    """Inputs -> a 6-neuron lif layer with per-neuron tau_m, v_th and bias -> 2 outputs. ``split``: the same
    neurons written by hand as one population per group of equal (tau_m, v_th), in group order."""
    rng = np.random.default_rng(seed)
    net = Network(name="groups", dt=1.0, seed=seed)
    times = [sorted(float(t) for t in rng.choice(steps, 40, replace=False)) for _ in range(4)]
    net.add_population("in", 4, "spike_source", times=times)
    w = rng.uniform(0.2, 0.9, (6, 4))
    w2 = rng.uniform(0.1, 0.6, (2, 6))
    if not split:
        net.add_population("hid", 6, "lif", tau_m=TAU_M, v_th=V_TH, bias=BIAS, tau_syn=5.0)
        net.connect("in", "hid", connect={"rule": "matrix", "matrix": w},
                    plasticity={"rule": "stdp"} if plastic else None)
        net.add_population("out", 2, "lif", tau_m=20.0, tau_syn=5.0)
        net.connect("hid", "out", connect={"rule": "matrix", "matrix": w2})
        return net
    groups = [[0, 2, 5], [1, 4], [3]]
    for k, g in enumerate(groups):
        net.add_population(f"hid{k}", len(g), "lif", tau_m=TAU_M[g[0]], v_th=V_TH[g[0]],
                           bias=[BIAS[i] for i in g], tau_syn=5.0)
        net.connect("in", f"hid{k}", connect={"rule": "matrix", "matrix": w[g]})
    net.add_population("out", 2, "lif", tau_m=20.0, tau_syn=5.0)
    for k, g in enumerate(groups):
        net.connect(f"hid{k}", "out", connect={"rule": "matrix", "matrix": w2[:, g]})
    return net


def test_groups_in_first_appearance_order():
    net = _net(False)
    got = uniform_groups(net.populations["hid"])
    assert [g.tolist() for g in got] == [[0, 2, 5], [1, 4], [3]]
    assert [g.tolist() for g in uniform_groups(net.populations["out"])] == [[0, 1]]


def test_invisible_split_equals_the_split_by_hand():
    img = compile_network(_net(False), "loihi").image
    ref = compile_network(_net(True), "loihi").image
    assert sorted(p.name for p in img.populations) == ["hid", "in", "out"]
    hid = img.population("hid")
    order = [0, 2, 5, 1, 4, 3]                  # the hand-split populations' neurons, in their order
    for field in ("du", "dv", "vth", "bias_mant", "bias_exp", "v_init"):
        mine = img.neurons[field][hid.start:hid.start + 6][order]
        hand = np.concatenate([ref.neurons[field][ref.population(f"hid{k}").start:][:n]
                               for k, n in enumerate((3, 2, 1))])
        assert np.array_equal(mine, hand), field
    assert len(set(img.neurons["du"][hid.start:hid.start + 6].tolist())) == 1          # tau_syn is uniform
    assert len(set(img.neurons["dv"][hid.start:hid.start + 6].tolist())) == 3          # three tau_m values
    q = img.options["quantization"]["populations"]
    assert [p["neurons"] for p in q if p["name"] == "hid"] == [[0, 2, 5], [1, 4], [3]]


def test_engines_equal_the_oracle_on_a_split_population(engine):
    img = compile_network(_net(False), "loihi").image
    ref = loihi_core.run(img, 120)
    got = engine.run(img, 120)
    assert np.array_equal(got.spikes, ref.spikes) and np.array_equal(got.v, ref.v) and np.array_equal(got.u, ref.u)
    assert np.count_nonzero(ref.spikes[:, 1] < img.n_neurons) > 20         # the layer spikes: not vacuous


def test_results_keyed_by_the_layer_and_close_to_the_float_reference():
    net = _net(False)
    res = emulator_run(compile_network(net, "loihi").image, 200)
    assert set(res.spikes) == {"in", "hid", "out"}
    hw = np.bincount(res.spikes["hid"][:, 1], minlength=6)
    ref = simulate(net, 200).spike_counts("hid", 6)
    assert ref.sum() > 50 and np.all(np.abs(hw - ref) <= np.maximum(2, 0.1 * ref)), (hw, ref)


def test_plastic_projection_onto_a_split_population_is_refused_in_one_line():
    net = _net(False, plastic=True)
    with pytest.raises(TargetError, match=r"hid.*per-neuron tau_m, tau_syn, v_th or v_reset") as e:
        compile_network(net, "loihi")
    assert "\n" not in str(e.value)
