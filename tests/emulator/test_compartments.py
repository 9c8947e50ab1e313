"""Dendrite compartments joined into a soma (``neurons.join_parent``, join ADD; docs/image-format.md,
*Compartments*): hand-computed steps, the engines (numpy, numba and Lava's composition of
``backends/lava/procs/compartments.py``: the ``engine`` fixture) against the scalar oracle
(tests/oracles/loihi_core.py) every step on random joined networks (u wrap, v saturation, dendrites that
saturate, recurrent projections from somas onto dendrites), and the image checks of the join tree."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from emulator import emulate
from neuromap.errors import ImageError, TargetError
from neuromap.image import load_image
from neuromap.network import Network
from neuromap.toolchain import compile_network
from tests.oracles import loihi_core

HW = ["check_hw_units", "partition", "lower"]


def _pair(soma=None, dend=None, n=1, times=((0,),), w_dend=100, w_soma=0) -> Network:
    net = Network(seed=2)
    net.add_population("soma", n, neuron="loihi_lif", **{"vth": 131071, **(soma or {})})
    net.add_population("dend", n, neuron="loihi_lif", join="soma", **(dend or {}))
    net.add_population("i", len(times), neuron="spike_source", times=[list(t) for t in times])
    net.connect("i", "dend", connect={"rule": "all_to_all"}, weight=w_dend)
    if w_soma:
        net.connect("i", "soma", connect={"rule": "all_to_all"}, weight=w_soma)
    net.add_probe("soma", ("spikes", "u", "v"))
    net.add_probe("dend", ("u", "v"))
    return net


def test_join_by_hand(engine):
    # dendrite: du = 4095 (u = input << 6 for one step), dv = 2048 (v halves); soma: du = 4095, dv = 0 (v keeps
    # 4095/4096 of itself: decay toward zero) and adds the dendrite's v of the same step
    img = compile_network(_pair(soma={"du": 4095, "dv": 0}, dend={"du": 4095, "dv": 2048}), passes=HW).image
    assert img.neurons["join_parent"].tolist() == [-1, 0]
    run = engine.run(img, 4, probe=np.array([0, 1]))
    # dendrite v: 0 + 100 << 6 = 6400 at step 1 (delay 1), then 3200, 1600
    assert run.v[:, 1].tolist() == [0, 6400, 3200, 1600]
    # soma v: 6400; 6400 * 4096 >> 12 ... dv = 0 keeps it exactly: 6400 + 3200, + 1600
    assert run.v[:, 0].tolist() == [0, 6400, 9600, 11200]
    assert run.u[:, 0].tolist() == [0, 0, 0, 0]              # the join does not enter the soma's stored u


def test_dendrite_never_spikes_and_soma_does(engine):
    # the dendrite's v exceeds its own threshold (vth 1) but never spikes; the soma crosses vth << 6 = 640
    img = compile_network(_pair(soma={"du": 4095, "dv": 4095, "vth": 10}, dend={"du": 4095, "dv": 4095, "vth": 1},
                                times=((0, 2),), w_dend=20), passes=HW).image
    run = engine.run(img, 5, probe=np.array([0, 1]))
    assert run.v[:, 1].tolist() == [0, 1280, 0, 1280, 0]
    assert run.spike_steps(1) == [] and run.spike_steps(0) == [1, 3]
    assert run.v[:, 0].tolist() == [0, 0, 0, 0, 0]


def _joined_net(seed: int) -> Network:
    """Random somas with dendrites: inputs onto both, a recurrent projection soma -> dendrite, wide constants."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    net = Network(seed=1)
    net.add_population("soma", n, neuron="loihi_lif", du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                       vth=int(rng.integers(0, 2000)), bias_mant=int(rng.integers(-300, 300)),
                       bias_exp=int(rng.integers(0, 8)), v=rng.choice([0, 2 ** 23 - 2, -(2 ** 23) + 2], n).tolist())
    net.add_population("dend", n, neuron="loihi_lif", join="soma", du=int(rng.integers(0, 4096)),
                       dv=int(rng.integers(0, 4096)), vth=int(rng.integers(0, 2000)),
                       bias_mant=int(rng.integers(-4096, 4096)), bias_exp=int(rng.integers(0, 8)),
                       u=rng.choice([0, 2 ** 23 - 2, -(2 ** 23) + 2], n).tolist())
    net.add_population("plain", 2, neuron="loihi_lif", du=100, dv=100, vth=50, refractory=int(rng.integers(0, 3)))
    n_in = int(rng.integers(1, 6))
    net.add_population("inp", n_in, "spike_source",
                       times=[sorted(set(rng.integers(0, 40, rng.integers(1, 25)).tolist())) for _ in range(n_in)])
    for pre, post in (("inp", "dend"), ("inp", "soma"), ("soma", "dend"), ("soma", "plain"), ("inp", "plain")):
        net.connect(pre, post, connect={"rule": "fixed_probability", "p": float(rng.uniform(0.3, 1.0))},
                    weight={"uniform_int": [-255, 255]}, delay={"uniform_int": [1, int(rng.integers(1, 6))]},
                    weight_exp=int(rng.integers(0, 8)))
    return net


def test_engines_equal_oracle_on_joined_networks(engine):
    @settings(max_examples=engine.examples(30, lava=2), deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2 ** 31 - 1))
    @example(3)
    def check(seed):
        img = compile_network(_joined_net(seed), passes=HW).image
        steps = 45
        ref = loihi_core.run(img, steps)
        got = engine.run(img, steps, probe=np.arange(img.n_neurons))
        assert np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v)
        assert np.array_equal(got.spikes, ref.spikes)
        if seed == 3:            # not vacuous: the example's dendrites move and its somas spike
            soma = img.population("soma")
            assert np.any(ref.spikes[:, 1] < soma.start + soma.size) and np.any(ref.v[:, soma.size:2 * soma.size])

    check()


def test_join_changes_the_soma():
    """The oracle's join is not a no-op: the same image without join_parent differs."""
    img = compile_network(_joined_net(3), passes=HW).image
    nu = {k: v for k, v in img.neurons.items() if k != "join_parent"}
    plain = dataclasses.replace(img, neurons=nu)
    assert not np.array_equal(emulate(plain, 45, "numpy", probe=np.arange(img.n_neurons)).v,
                              loihi_core.run(img, 45).v)


def test_image_round_trip_and_tree_checks(tmp_path):
    img = compile_network(_pair(n=3), passes=HW).image
    img.save(tmp_path / "img")
    back = load_image(tmp_path / "img")
    assert back.neurons["join_parent"].tolist() == [-1, -1, -1, 0, 1, 2]
    bad = dict(img.neurons)
    for jp, what in (([-1, -1, -1, 0, 0, 2], "more than one dendrite"), ([-1, 3, -1, 0, 1, 2], "itself"),
                     ([-1, -1, -1, 3, 1, 2], "itself"), ([-1, -1, -1, 0, 1, 6], "outside")):
        bad["join_parent"] = np.array(jp, np.int32)
        with pytest.raises(ImageError, match=what):
            dataclasses.replace(img, neurons=dict(bad)).verify()


def test_join_must_name_a_root_population_of_the_same_size():
    net = _pair(n=2)
    net.populations["dend"].neuron["join"] = "nope"
    with pytest.raises(TargetError, match="join: 'nope' is not another loihi_lif population"):
        compile_network(net, passes=HW)
    net = _pair(n=2)
    net.add_population("small", 1, neuron="loihi_lif", join="soma")
    with pytest.raises(TargetError, match="same size"):
        compile_network(net, passes=HW)
