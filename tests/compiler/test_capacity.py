"""One capacity accounting (neuromap/capacity.py): the graph side, the image side, packing, the
placement checker and ``inspect`` count the same numbers, and they match a plain-Python recount."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import neuromap
from neuromap.capacity import CoreLimits, count, image_usage, violations
from neuromap.errors import ImageError
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.packing import pack_order
from neuromap.placement.usage import core_usage, graph_input_axons
from neuromap.placement.verify import verify_graph
from neuromap.targets import load_target
from neuromap.toolchain import compile_network
from tests.helpers.capacity_oracle import recount

LOIHI = load_target("loihi")


def _target(core=None, synapse=None):
    t = LOIHI
    return dataclasses.replace(t, core=dataclasses.replace(t.core, **(core or {})),
                               synapse=dataclasses.replace(t.synapse, **(synapse or {})))


def _graph(seed, n=40, n_syn=300, n_proj=3):
    """Distinct (projection, pre, post) synapses, random delays, weight bits and plastic projections."""
    rng = np.random.default_rng(seed)
    proj = rng.integers(0, n_proj, n_syn)
    pre, post = rng.integers(0, n, n_syn), rng.integers(0, n, n_syn)
    _, keep = np.unique((proj * n + pre) * n + post, return_index=True)
    proj, pre, post = proj[keep], pre[keep], post[keep]
    bits = rng.choice([0, 3, 5, 8], n_proj)[proj]
    plastic = (rng.random(n_proj) < 0.4)[proj]
    return SynapseGraph.from_arrays(n, pre, post, delay=rng.integers(1, 4, pre.size), weight_bits=bits,
                                    plastic=plastic, projection=proj), proj


def _usage_dict(u, target) -> dict:
    lim = CoreLimits.from_target(target)
    out = {}
    for c in range(u.neurons.size):
        if u.neurons[c]:
            for r in ("neurons", "input_axons", "output_axons", "fan_out_cores", "synapse_memory_bits"):
                if lim.limit(r):
                    out[(c, r)] = int(u.of(r)[c])
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10 ** 6), st.integers(1, 6))
def test_accounting_matches_plain_python_recount(seed, n_cores):
    t = _target(core={"max_output_axons": 50}, synapse={"max_fan_out_cores": 3})
    g, proj = _graph(seed)
    core_of = np.random.default_rng(seed + 1).integers(0, n_cores, g.n_neurons)
    want = recount(g.n_neurons, g.pre, g.post, core_of, t, g.delay, g.weight_bits, g.plastic, proj)
    assert _usage_dict(core_usage(g, core_of, t), t) == want


def test_hand_computed_axons_per_projection():
    # neuron 0 reaches neurons 1 and 2 (both on core 1) through projection 0 and neuron 1 through
    # projection 1 (plastic): 2 input axons on core 1, the plastic one taking 2 slots -> 3 slots;
    # neuron 0 (core 0) has 2 output axons and reaches 1 core.
    g = SynapseGraph.from_arrays(3, [0, 0, 0], [1, 2, 1], plastic=[False, False, True], projection=[0, 0, 1])
    u = core_usage(g, np.array([0, 1, 1]), LOIHI)
    assert list(u.input_axons) == [0, 3] and list(u.output_axons) == [2, 0]
    assert list(u.synapses) == [0, 3]
    assert list(core_usage(g, np.array([0, 1, 1]), _target(synapse={"max_fan_out_cores": 4})).max_fan_out_cores) \
        == [1, 0]
    # memory (loihi): axon 1: 2 synapses x (8 weight + 0 delay + 0 tag + 6 index bits (2 neurons -> 1 bit -> 6))
    # + 10 header = 38 bits -> 64; axon 2: 1 x (8 + 8 tag + 6) + 10 = 32 -> 64
    assert list(u.memory_bits) == [0, 128]


@pytest.mark.parametrize("seed", range(4))
def test_packing_fills_every_core_and_never_overfills(seed):
    """Sequential packing closes a core only when its next neuron would exceed a capacity
    (by the shared accounting), and no core it makes is over capacity."""
    t = _target(core={"max_neurons": 12, "max_input_axons": 40, "max_output_axons": 70,
                      "synapse_memory_bits": 6000})
    g, _ = _graph(seed, n=80, n_syn=900)
    core_of = pack_order(g, t, np.arange(g.n_neurons))
    assert verify_graph(g, core_of, t) == []
    lim = CoreLimits.from_target(t)
    # the packer's own cut points (output repair may split cores further, so test with it off)
    t_in = _target(core={"max_neurons": 12, "max_input_axons": 40, "max_output_axons": 0,
                         "synapse_memory_bits": 6000})
    core_of = pack_order(g, t_in, np.arange(g.n_neurons))
    lim = CoreLimits.from_target(t_in)
    for c in range(int(core_of.max())):
        members = np.flatnonzero(core_of == c)
        grown = core_of.copy()
        grown[members[-1] + 1] = c          # the next neuron joins this core
        u = count(lim, int(core_of.max()) + 1, grown, graph_input_axons(g, grown, t_in))
        assert any(v.core == c for v in violations(u, lim)), f"core {c} could hold one more neuron"


def ei_network(seed: int = 1) -> neuromap.Network:
    """Issue 19's E/I network: 2000 LIF neurons (1600 E, 400 I), 400 Poisson inputs, in-degree 10 %,
    vogels_isp on I -> E (examples/balanced_ei.py scaled up)."""
    lif = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
    w = {("X", "E"): 0.5, ("X", "I"): 0.5, ("E", "E"): 0.1, ("E", "I"): 0.2, ("I", "E"): 0.1, ("I", "I"): 0.4}
    isp = dict(rule="vogels_isp", eta=5e-2, rho0=5.0, tau_stdp=20.0, w_min=0.0, w_max=5.0)
    sizes = {"X": 400, "E": 1600, "I": 400}
    net = neuromap.Network(name="ei2000", dt=1.0, seed=seed)
    net.add_population("X", sizes["X"], "poisson", rate=10.0)
    net.add_population("E", sizes["E"], "lif", **lif)
    net.add_population("I", sizes["I"], "lif", **lif)
    for (pre, post), wv in w.items():
        net.connect(pre, post, {"rule": "fixed_indegree", "k": sizes[pre] // 10}, weight=wv, delay=1,
                    target="inh" if pre == "I" else "exc", plasticity=isp if (pre, post) == ("I", "E") else None)
    return net


@pytest.fixture(scope="module")
def ei_image():
    return compile_network(ei_network(), "loihi", placer="sequential").image


def test_ei_network_fits_and_every_counter_agrees(ei_image, tmp_path):
    """Issue 19: this network compiled to a core with 4800 image axons (+400 plastic slots) while the
    packer counted 2800 slots; inspect showed 116 % with no warning. Now every core fits and the
    graph-side count of the placement equals the image's own recount."""
    img = ei_image
    u = image_usage(img)
    assert u.input_axons.max() <= 4096 and u.memory_bits.max() <= LOIHI.core.synapse_memory_bits
    assert list(u.neurons) == list(np.bincount(img.neurons["core"], minlength=img.n_cores))
    # plastic axons (I -> E, vogels_isp) take two slots: slots = axons + plastic axons
    plastic = np.array([p.learning is not None for p in img.projections])[img.axons["proj"]]
    n_ax = np.diff(img.cores["axon_ptr"])
    assert list(u.input_axons) == list(n_ax + np.bincount(np.repeat(np.arange(img.n_cores), n_ax)[plastic],
                                                          minlength=img.n_cores))
    # the graph the placement checker uses gives the same per-core numbers
    from neuromap.compiler.pipeline import PASSES, CompileState
    from neuromap.compiler.result import CompileOptions
    st_ = CompileState(ei_network(), LOIHI, CompileOptions(placer="sequential"))
    for p in PASSES[:-1]:
        st_ = p.run(st_)
    g = SynapseGraph.from_network(st_.network)
    is_in = np.concatenate([np.full(p.size, p.model in ("poisson", "spike_source"))
                            for p in st_.network.populations.values()])
    core_of = np.full(g.n_neurons, -1, np.int64)
    core_of[~is_in] = np.concatenate([c for c, _ in st_.placement.values()])
    gu = count(CoreLimits.from_target(LOIHI), img.n_cores, core_of, graph_input_axons(g, core_of, LOIHI, img.n_cores))
    for r in ("neurons", "input_axons", "output_axons", "synapse_memory_bits", "synapses"):
        assert list(gu.of(r)) == list(u.of(r)), r
    # inspect shows those numbers, under the limit, with no over-capacity line
    from neuromap.cli.inspect_cmd import summarize
    img.save(tmp_path / "b")
    s = json.loads(json.dumps(summarize(neuromap.image.load_image(tmp_path / "b"), "b")))
    assert s["utilization"]["input_axons"]["max"] == u.input_axons.max() <= 4096
    assert s["over_capacity"] == []


def test_over_capacity_image_cannot_be_written(ei_image, tmp_path):
    """Fill-in-order cores (the legacy ``partition`` pass) put E and I neurons of this network on one
    core beyond its input-axon slots and synapse memory: the image verifier refuses it, and save too."""
    net = ei_network()
    from neuromap.compiler.pipeline import PASSES, CompileState, lower, partition
    st_ = CompileState(net, LOIHI)
    for p in PASSES[:3]:
        st_ = p.run(st_)
    st_ = partition(st_)
    with pytest.raises(ImageError, match="capacity"):
        lower(st_).image.verify()
    with pytest.raises(ImageError, match="capacity"):
        compile_network(st_.network, LOIHI, passes=["check_hw_units", "partition", "lower"])
    # a valid image whose recorded core limits are lowered is refused by save (nothing written)
    bad = dataclasses.replace(ei_image, constants={**ei_image.constants,
                                                   "core": {**ei_image.constants["core"], "max_input_axons": 100}})
    with pytest.raises(ImageError, match="input_axons"):
        bad.save(tmp_path / "x")
    assert not (tmp_path / "x").exists()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10 ** 6))
def test_target_cores_match_the_sorted_pairs(seed):
    """traffic.neuron_target_cores (counting sort + marks, O(synapses)) = the distinct sorted
    (source, core) pairs."""
    from neuromap.placement.traffic import neuron_target_cores
    rng = np.random.default_rng(seed)
    n, s = int(rng.integers(1, 60)), int(rng.integers(0, 400))
    g = SynapseGraph.from_arrays(n, rng.integers(0, n, s), rng.integers(0, n, s))
    core_of = rng.integers(0, int(rng.integers(1, 9)), n)
    a, b = neuron_target_cores(g, core_of)
    nc = int(core_of.max()) + 1
    key = np.unique(g.pre * nc + core_of[g.post])
    assert a.tolist() == (key // nc).tolist() and b.tolist() == (key % nc).tolist()


def test_image_usage_without_the_axon_table_counts_the_same(ei_image):
    """image_usage's compiled pass over the image arrays (no per-axon table) = count() of image_input_axons,
    on a compiled image with plastic axons and on random images, with their own limits and another target's."""
    from neuromap.capacity import _image_count, image_input_axons
    from tests.helpers.images import random_image
    images = [ei_image] + [random_image(s) for s in range(12)]
    for img in images:
        for limits in (CoreLimits.from_constants(img.constants) or CoreLimits.from_target(LOIHI),
                       CoreLimits.from_target(LOIHI)):
            axons, source_core = image_input_axons(img)
            want = count(limits, img.n_cores, source_core, axons, img.n_neurons)
            got = _image_count(img, limits)
            for r in ("neurons", "input_axons", "output_axons", "synapse_memory_bits", "synapses"):
                assert list(got.of(r)) == list(want.of(r)), r
