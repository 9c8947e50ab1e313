"""Partitioning: capacities (independent verifier), brute-force optimum, determinism, memory accounting."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from neuromap.errors import TargetError
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.partition import partition
from neuromap.placement.traffic import inter_core_packets
from neuromap.placement.usage import axon_memory_bits, core_usage
from neuromap.placement.verify import verify_assignment, verify_graph
from neuromap.targets import load_target


def _target(**core):
    t = load_target("loihi")
    return dataclasses.replace(t, core=dataclasses.replace(t.core, **core))


def _random_graph(n, n_syn, seed, plastic_frac=0.0):
    rng = np.random.default_rng(seed)
    pre, post = rng.integers(0, n, n_syn), rng.integers(0, n, n_syn)
    return SynapseGraph.from_arrays(n, pre, post, delay=rng.integers(1, 4, n_syn),
                                    weight_bits=rng.choice([0, 4, 8], n_syn),
                                    plastic=rng.random(n_syn) < plastic_frac)


def test_nengo_loihi_memory_bits_hand_computed():
    t = load_target("loihi")
    # 70 synapses on one axon, 8-bit weights, no delay field, no tag, index 10 bits (1024-neuron core):
    # group of 64: 64*18 + 10 = 1162 bits -> 19 words = 1216; group of 6: 118 -> 2 words = 128
    assert axon_memory_bits(t, np.array([70]), np.array([18]))[0] == 1216 + 128
    g = SynapseGraph.from_arrays(1024, np.zeros(70, int), np.arange(70) + 1)
    u = core_usage(g, np.zeros(1024, int), t)
    assert u.memory_bits[0] == 1344 and u.input_axons[0] == 1 and u.output_axons[0] == 1


def test_fast_and_independent_accounting_agree():
    g = _random_graph(60, 900, seed=3, plastic_frac=0.3)
    core_of = np.random.default_rng(1).integers(0, 5, 60)
    t = _target(max_neurons=1, max_input_axons=1, max_output_axons=1, synapse_memory_bits=1)
    u = core_usage(g, core_of, t)
    found = {(v.core, v.resource): v.used for v in verify_graph(g, core_of, t)}
    for c in range(5):
        assert found[(c, "neurons")] == u.neurons[c]
        assert found[(c, "input_axons")] == u.input_axons[c]
        assert found[(c, "output_axons")] == u.output_axons[c]
        assert found[(c, "synapse_memory_bits")] == u.memory_bits[c]


@pytest.mark.parametrize("method", ["sequential", "greedy", "cpsat"])
def test_capacities_never_violated(method):
    g = _random_graph(200, 2400, seed=7, plastic_frac=0.2)
    t = _target(max_neurons=16, max_input_axons=60, max_output_axons=90, synapse_memory_bits=20000)
    a = partition(g, t, method, time_limit=0.3, seed=0)
    assert verify_graph(g, a.core_of, t) == []
    assert a.objective == inter_core_packets(g, a.core_of, np.ones(200))
    assert set(np.unique(a.core_of)) == set(range(a.n_cores))


def _brute_force(g, t, k, rates):
    best = (np.inf, np.inf)
    for assign in itertools.product(range(k), repeat=g.n_neurons):
        if assign[0] != 0:
            continue
        core_of = np.array(assign)
        if verify_assignment(g.n_neurons, g.pre, g.post, core_of, t):
            continue
        best = min(best, (inter_core_packets(g, core_of, rates), len(set(assign))))
    return best


def test_cpsat_matches_brute_force_on_tiny_instance():
    rng = np.random.default_rng(5)
    g = SynapseGraph.from_arrays(8, rng.integers(0, 8, 14), rng.integers(0, 8, 14))
    t = _target(max_neurons=3, max_input_axons=4, max_output_axons=6)
    rates = np.array([1, 2, 1, 3, 1, 1, 2, 1], float)
    a = partition(g, t, "cpsat", rates=rates, time_limit=5.0, seed=0)
    greedy = partition(g, t, "greedy", rates=rates)
    assert a.stats["status"] == "OPTIMAL"
    assert verify_graph(g, a.core_of, t) == []
    best_traffic, _ = _brute_force(g, t, greedy.n_cores, rates)
    assert a.objective == best_traffic
    assert a.bound == best_traffic
    assert a.objective <= greedy.objective


def test_cpsat_is_deterministic():
    g = _random_graph(120, 1500, seed=11)
    t = _target(max_neurons=16, max_input_axons=80)
    runs = [partition(g, t, "cpsat", time_limit=0.3, seed=4).core_of for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


def test_greedy_beats_sequential_on_scrambled_local_graph():
    # a ring lattice whose ids are shuffled: sequential packing sees no locality, growth does
    n, rng = 400, np.random.default_rng(0)
    perm = rng.permutation(n)
    src = np.repeat(np.arange(n), 4)
    dst = (src + np.tile([-2, -1, 1, 2], n)) % n
    g = SynapseGraph.from_arrays(n, perm[src], perm[dst])
    t = _target(max_neurons=40)
    seq, gr = partition(g, t, "sequential"), partition(g, t, "greedy")
    assert gr.objective < 0.5 * seq.objective


def test_neuron_too_big_for_a_core_is_a_clear_error():
    g = SynapseGraph.from_arrays(10, np.arange(9), np.full(9, 9))
    t = _target(max_input_axons=4)
    with pytest.raises(TargetError, match="neuron 9 alone exceeds one loihi core"):
        partition(g, t, "sequential")


def test_cpsat_never_worse_than_sequential_or_greedy():
    # an unshuffled ring: id order is already local, so sequential is near ideal
    n = 240
    src = np.repeat(np.arange(n), 4)
    dst = (src + np.tile([-2, -1, 1, 2], n)) % n
    g = SynapseGraph.from_arrays(n, src, dst)
    t = _target(max_neurons=24)
    seq, gr = partition(g, t, "sequential"), partition(g, t, "greedy")
    a = partition(g, t, "cpsat", time_limit=0.3, seed=0)
    assert a.objective <= min(seq.objective, gr.objective)
    assert a.stats["sequential_objective"] == seq.objective and a.stats["greedy_objective"] == gr.objective
    assert verify_graph(g, a.core_of, t) == []


def test_packer_fills_cores_to_the_binding_capacity():
    # 30 neurons, each fed by 5 private sources: 5 input axons per neuron, 12 axons per core -> 2 per core
    n_src, n = 150, 180
    post = np.repeat(np.arange(n_src, n), 5)
    g = SynapseGraph.from_arrays(n, np.arange(n_src), post)
    t = _target(max_neurons=64, max_input_axons=12)
    a = partition(g, t, "sequential")
    # sources need no axons: 64 + 64 + (22 sources + 2 targets), then 2 targets per core (14 more)
    assert a.n_cores == 3 + 14
    assert np.bincount(a.core_of).tolist() == [64, 64, 24] + [2] * 14
    assert verify_graph(g, a.core_of, t) == []


def test_output_axons_are_repaired_by_cutting_cores():
    # 8 neurons each targeting 6 singleton-input neurons: the limit of 4 input axons forces spreading
    n = 8 + 48
    pre = np.repeat(np.arange(8), 6)
    post = 8 + np.arange(48)
    g = SynapseGraph.from_arrays(n, pre, post)
    t = _target(max_neurons=8, max_output_axons=10)
    a = partition(g, t, "sequential")
    assert verify_graph(g, a.core_of, t) == []
    u = core_usage(g, a.core_of, t)
    assert u.output_axons.max() <= 10 and u.neurons.max() <= 8
