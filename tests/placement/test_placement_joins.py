"""Join groups stay on one core (neuromap/placement/joins.py, docs/placement.md *Joins*): every placer and the
fill-in-order ``partition`` pass on random joined networks with small odd-sized cores (a group would straddle a
core boundary in plain id order), graph-level partitions (packing, CP-SAT exact and LNS) on random joined graphs,
and the verifiers that reject a join across cores."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emulator import emulate
from neuromap.errors import ImageError, TargetError
from neuromap.network import Network
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.joins import first_split, unit_order
from neuromap.placement.partition import check_joins_kept, partition
from neuromap.placement.verify import verify_graph
from neuromap.toolchain import compile_network
from tests.helpers.joined_nets import joined_net
from tests.helpers.placement import small_target
from tests.oracles import loihi_core

PLACERS = ("sequential", "greedy", "tiles", "cpsat")


def _cores_of_joins(img):
    jp = img.neurons["join_parent"].astype(np.int64)
    kids = np.flatnonzero(jp >= 0)
    return img.neurons["core"][kids], img.neurons["core"][jp[kids]]


@pytest.mark.parametrize("seed", range(4))
def test_every_placer_keeps_joins_on_one_core_and_runs_as_the_oracle(seed):
    net = joined_net(seed)
    tgt = small_target(max_neurons=[3, 5, 7, 5][seed], max_input_axons=40)
    ref = None
    for placer in PLACERS:
        img = compile_network(net, tgt, placer=placer, time_limit=0.5, deterministic=True).image
        d, s = _cores_of_joins(img)
        assert d.size == net.populations["dend_a"].size + net.populations["dend_b"].size
        assert np.array_equal(d, s), placer
        assert img.n_cores > 1                      # not vacuous: several cores, groups near boundaries
        run = loihi_core.run(img, 35)
        em = emulate(img, 35, "numpy", probe=np.arange(img.n_neurons))
        assert np.array_equal(em.spikes, run.spikes) and np.array_equal(em.v, run.v)
        # placement does not change spikes (neuron ids are the same in every image)
        ref = run.spikes if ref is None else ref
        assert np.array_equal(run.spikes, ref), placer
    wide = small_target(max_neurons=tgt.core.max_neurons, max_input_axons=1024)   # the pass fills by count only
    img = compile_network(net, wide, passes=["check_hw_units", "partition", "lower"]).image
    d, s = _cores_of_joins(img)
    assert np.array_equal(d, s)
    assert np.array_equal(loihi_core.run(img, 35).spikes, ref)


def test_plain_id_order_would_split_a_join():
    """The networks above are not trivially safe: filling cores of 3 in image id order splits a join."""
    net = joined_net(0)
    img = compile_network(net, small_target(max_neurons=3, max_input_axons=40), placer="sequential").image
    jp = img.neurons["join_parent"].astype(np.int64)
    assert first_split(jp, np.arange(img.n_neurons) // 3) >= 0


def _random_joined_graph(rng, n):
    jp = np.full(n, -1, np.int64)
    perm = rng.permutation(n)
    k = n // 3
    jp[perm[:k]] = perm[k:2 * k]                  # k dendrites, each joining a distinct root
    s = int(rng.integers(n, 6 * n))
    return SynapseGraph.from_arrays(n, rng.integers(0, n, s), rng.integers(0, n, s),
                                    projection=rng.integers(0, 3, s), join_parent=jp)


@pytest.mark.parametrize("n", [30, 90])          # CP-SAT exact (<= 48 neurons) and LNS windows
@pytest.mark.parametrize("method", PLACERS)
def test_partition_keeps_join_groups_on_random_graphs(method, n):
    rng = np.random.default_rng(n + len(method))
    g = _random_joined_graph(rng, n)
    tgt = small_target(max_neurons=5, max_input_axons=30)
    a = partition(g, tgt, method, time_limit=0.5, seed=1)
    assert first_split(g.join_parent, a.core_of) == -1
    assert verify_graph(g, a.core_of, tgt) == []
    assert a.n_cores >= n // 5


def test_unit_order_moves_groups_to_their_first_member():
    jp = np.array([-1, -1, 0, -1, 1])              # 2 joins 0, 4 joins 1
    order, end = unit_order(np.array([4, 3, 2, 1, 0]), jp)
    assert order.tolist() == [1, 4, 3, 0, 2]       # group {1, 4} at 4's place (root first), then 3, then {0, 2}
    assert end[[0, 2, 3]].tolist() == [2, 3, 5]
    same, one = unit_order(np.arange(3), None)
    assert same.tolist() == [0, 1, 2] and one.tolist() == [1, 2, 3]


def test_verifiers_reject_a_join_across_cores():
    net = Network(seed=1)
    net.add_population("soma", 3, neuron="loihi_lif")
    net.add_population("dend", 3, neuron="loihi_lif", join="soma")
    net.add_population("plain", 3, neuron="loihi_lif")
    net.add_population("inp", 1, "spike_source", times=[[1]])
    for post in ("soma", "plain"):
        net.connect("inp", post, connect={"rule": "all_to_all"}, weight=10)
    img = compile_network(net, small_target(max_neurons=6), placer="sequential").image
    assert img.n_cores == 2
    img.verify()
    core, slot = img.neurons["core"].copy(), img.neurons["slot"].copy()
    d = img.population("dend").start                  # no synapse reaches it: only the join ties it to core 0
    core[d], slot[d] = 1, 3
    bad = dataclasses.replace(img, neurons={**img.neurons, "core": core, "slot": slot})
    with pytest.raises(ImageError, match=f"compartment {d} \\(core 1\\) joins 0 on core 0") as e:
        bad.verify()
    assert "\n" not in str(e.value)
    g = SynapseGraph.from_arrays(3, [0], [1], join_parent=[-1, -1, 0])
    with pytest.raises(TargetError, match="compartment 2 is on core 1 and the soma it joins \\(0\\) on core 0"):
        check_joins_kept(g, np.array([0, 0, 1]))


def test_a_join_group_too_big_for_a_core_is_one_line():
    g = SynapseGraph.from_arrays(4, [2, 3, 2, 3], [0, 1, 1, 0], projection=[0, 1, 2, 3], join_parent=[-1, 0, -1, -1])
    with pytest.raises(TargetError, match="neuron 0 with its joined compartments alone exceeds"):
        partition(g, small_target(max_neurons=5, max_input_axons=3), "sequential")
