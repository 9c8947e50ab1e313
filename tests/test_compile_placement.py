"""The ``place`` compiler pass: capacities hold on the image (independent verifier), determinism,
placement does not change the emulator's spikes, the report is in the image."""
import dataclasses
import json

import numpy as np
import pytest

from backends.emulator import run
from neuromap.compiler import compile_network
from neuromap.compiler.place import verify_image_capacities
from neuromap.errors import TargetError
from neuromap.network import Network
from neuromap.targets import load_target

TL = 0.3  # CP-SAT deterministic units: tiny, tests stay fast


def small_target(max_neurons=16, max_input_axons=40):
    t = load_target("loihi")
    return dataclasses.replace(t, core=dataclasses.replace(t.core, max_neurons=max_neurons,
                                                           max_input_axons=max_input_axons))


def ring_net(n=96, seed=3):
    """Poisson inputs into a ring with local excitation (neighbours +-1, +-2) plus a shuffled id order,
    so sequential ids are a poor partition; spikes are driven (vth low)."""
    net = Network(seed=seed)
    net.add_population("inp", 6, neuron="poisson", rate=200.0)
    net.add_population("n", n, neuron="loihi_lif", vth=60, du=4095, dv=1024)
    perm = np.random.default_rng(seed).permutation(n)
    m = np.zeros((n, n))
    for k in range(n):
        for d in (-2, -1, 1, 2):
            m[perm[(k + d) % n], perm[k]] = 40
    net.connect("n", "n", connect={"rule": "matrix", "matrix": m})
    net.connect("inp", "n", connect={"rule": "fixed_probability", "p": 0.3}, weight=120)
    return net


@pytest.mark.parametrize("placer", ["sequential", "greedy", "cpsat"])
def test_capacities_hold_on_the_image(placer):
    tgt = small_target()
    img = compile_network(ring_net(), tgt, placer=placer, time_limit=TL)
    assert img.n_cores >= 96 // 16
    assert verify_image_capacities(img, tgt) == []
    # the verifier does catch an overfull core: the same image judged against a smaller core
    tiny = small_target(max_neurons=8, max_input_axons=10)
    assert any(v.resource == "neurons" for v in verify_image_capacities(img, tiny))
    rep = img.options["placement"]
    assert rep["method"] == placer and rep["cores_used"] == img.n_cores
    assert img.cores["tile_x"].shape == (img.n_cores,) and img.cores["chip"].min() >= 0
    util = rep["utilization"]["per_core"]
    assert util["neurons"]["max"] <= 16 and util["input_axons"]["max"] <= 40
    assert rep["utilization"]["binding"] in util


def test_cpsat_beats_sequential_on_a_shuffled_ring():
    img = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=1.0)
    rep = img.options["placement"]
    assert rep["hop_weighted_traffic"] < rep["sequential_hop_weighted_traffic"]
    assert rep["bound"] is None or rep["bound"] <= rep["hop_weighted_traffic"] + 1e-9


def test_same_inputs_give_the_same_image(tmp_path):
    a = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=TL, seed=5).save(tmp_path / "a")
    b = compile_network(ring_net(), small_target(), placer="cpsat", time_limit=TL, seed=5).save(tmp_path / "b")
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert ma["arrays"] == mb["arrays"]  # sha256 of every array
    ra, rb = ma["options"]["placement"], mb["options"]["placement"]
    for k in ("hop_weighted_traffic", "bound", "gap", "max_link_load", "energy_pj_per_step"):
        assert ra[k] == rb[k]


def test_spikes_do_not_depend_on_placement():
    tgt = small_target()
    seq = compile_network(ring_net(), tgt, placer="sequential")
    cps = compile_network(ring_net(), tgt, placer="cpsat", time_limit=TL)
    assert not np.array_equal(seq.neurons["core"], cps.neurons["core"])
    rs, rc = run(seq, 60), run(cps, 60)
    assert rs.core_spikes.sum() > 50  # the network is active
    assert set(rs.spikes) == set(rc.spikes) == {"inp", "n"}
    for p in rs.spikes:
        assert np.array_equal(np.asarray(rs.spikes[p]), np.asarray(rc.spikes[p]))
    assert rs.link_spikes.sum() > 0 and not np.array_equal(rs.link_spikes, rc.link_spikes)


def test_auto_rates_and_bad_options():
    img = compile_network(ring_net(), small_target(), placer="greedy", rates="auto", rate_steps=30)
    assert img.options["placement"]["rates"] == "auto" and img.options["placement"]["rate_steps"] == 30
    with pytest.raises(TargetError, match="placer"):
        compile_network(ring_net(), small_target(), placer="annealing")
    with pytest.raises(TargetError, match="rates"):
        compile_network(ring_net(), small_target(), rates="measured")
