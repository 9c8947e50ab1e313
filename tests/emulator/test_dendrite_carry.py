"""Projections with ``weight_exp < 0``: per (projection, post, delay) and step, Lava floors the *sum* of the
weights, not each weight. The delivery runs add every slotted weight's floor ``w >> s`` at once and settle the
carry ``floor(sum of remainders / 2**s)`` of the slots two or more remainders met in (docs/emulator.md,
*Delivery runs*); here many sources meet in few slots every step, so carries are frequent, and every engine
(numpy, numba on 1-3 threads, Lava) must give the scalar oracle's integers."""
from __future__ import annotations

import numpy as np

from emulator import emulate
from neuromap.network import Network
from neuromap.toolchain import compile_network
from tests.oracles import loihi_core

HW = ["check_hw_units", "partition", "lower"]


def _image(exp: int = -3):
    rng = np.random.default_rng(11)
    net = Network(seed=2)
    times = [sorted(rng.choice(40, 25, replace=False).astype(float).tolist()) for _ in range(24)]
    net.add_population("x", 24, neuron="spike_source", times=times)
    net.add_population("a", 3, neuron="loihi_lif", du=300, dv=200, vth=30)
    net.add_population("b", 2, neuron="loihi_lif", du=0, dv=100, vth=20, bias_mant=5)
    net.connect("x", "a", connect={"rule": "all_to_all"}, weight={"uniform_int": [-255, 255]}, weight_exp=exp,
                num_weight_bits=8, sign_mode="mixed", delay={"uniform_int": [1, 2]})
    net.connect("a", "b", connect={"rule": "all_to_all"}, weight={"uniform_int": [-90, 255]}, weight_exp=-1,
                num_weight_bits=8, sign_mode="mixed")
    net.connect("x", "b", connect={"rule": "fixed_probability", "p": 0.5}, weight=37, weight_exp=1)
    return compile_network(net, passes=HW).image


def _carries(img) -> int:
    """(post, step) pairs of the x -> a projection whose floored sum differs from the sum of floors: the
    steps at which dropping the carry would change the input (the test is only worth its name if > 0)."""
    sy, shift = img.synapses, -img.projections[0].weight_exp
    syn = np.flatnonzero(img.synapse_projections() == 0)
    src = np.empty(img.n_synapses, np.int64)
    rt, ax = img.routes, img.axons
    for s in range(img.n_neurons + img.n_inputs):
        for r in range(rt["src_ptr"][s], rt["src_ptr"][s + 1]):
            g = img.cores["axon_ptr"][rt["core"][r]] + rt["axon"][r]
            src[ax["syn_ptr"][g]:ax["syn_ptr"][g + 1]] = s
    steps = img.inputs["spike_step"]
    idx = img.inputs["spike_index"] + img.n_neurons
    n = 0
    for t in np.unique(steps):
        on = set(idx[steps == t].tolist())
        hit = [q for q in syn if src[q] in on]
        for key in {(int(sy["post"][q]), int(sy["delay"][q])) for q in hit}:
            w = [int(sy["weight"][q]) for q in hit if (int(sy["post"][q]), int(sy["delay"][q])) == key]
            n += (sum(w) >> shift) != sum(x >> shift for x in w)
    return n


def test_floored_sums_of_slotted_weights_equal_the_oracle(engine):
    img = _image()
    assert _carries(img) > 20
    want = loihi_core.run(img, 60)
    got = engine.run(img, 60)
    assert np.array_equal(got.spikes, want.spikes)
    assert np.array_equal(got.u, want.u) and np.array_equal(got.v, want.v)


def test_threads_settle_the_same_carries(emulator_engine):
    img = _image(-5)
    ref = loihi_core.run(img, 60)
    pr = np.arange(img.n_neurons)
    for th in (1, 2, 3):
        run = emulate(img, 60, engine=emulator_engine.name, probe=pr, threads=th)
        assert np.array_equal(run.spikes, ref.spikes) and np.array_equal(run.v, ref.v), th
        assert np.array_equal(run.u, ref.u), th
