"""Per-core resource usage under a target's capacity model (vectorized; used by the partitioner).

Capacity model (``docs/targets.md``): an *input axon* of core c is a distinct
presynaptic neuron with at least one synapse onto a neuron of c; it takes
``core.plastic_axon_slots`` slots if any of those synapses is plastic, else 1. An
*output axon* of core c is a distinct (neuron on c, target core) pair. Synapse
memory follows nengo-loihi's bit accounting per input axon (groups of
``synapses_per_group`` synapses, each ``n*(w + d + t + i) + header`` bits rounded up
to ``word_bits``). :mod:`neuromap.placement.verify` re-checks all of this
independently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromap.placement.graph import SynapseGraph
from neuromap.targets import Target


@dataclass(frozen=True)
class CoreUsage:
    """Resource use per core (arrays of length n_cores)."""

    neurons: np.ndarray
    input_axons: np.ndarray      # slots
    output_axons: np.ndarray
    memory_bits: np.ndarray
    max_fan_out_cores: np.ndarray  # largest number of target cores of one neuron on the core


def smallest_at_least(options: tuple[int, ...], need: np.ndarray) -> np.ndarray:
    """The smallest entry of sorted ``options`` >= ``need`` (elementwise); -1 where none is."""
    opts = np.asarray(options)
    i = np.searchsorted(opts, need, side="left")
    return np.where(i < len(opts), opts[np.minimum(i, len(opts) - 1)], -1)


def index_bits_for(target: Target, n_neurons_on_core: np.ndarray) -> np.ndarray:
    """Index field width for cores holding ``n`` neurons: smallest allowed >= ceil(log2 n)."""
    n = np.maximum(np.asarray(n_neurons_on_core), 1)
    need = np.ceil(np.log2(n)).astype(np.int64)
    return smallest_at_least(target.synapse_memory.index_bits, need)


def axon_memory_bits(target: Target, n_syn: np.ndarray, bits_per_synapse: np.ndarray) -> np.ndarray:
    """nengo-loihi memory bits of input axons with ``n_syn`` synapses of ``bits_per_synapse`` each."""
    m = target.synapse_memory
    g, h, w = m.synapses_per_group, m.group_header_bits, m.word_bits
    n = np.asarray(n_syn, np.int64)
    b = np.asarray(bits_per_synapse, np.int64)
    full, rest = n // g, n % g
    words = lambda k: -(-(k * b + h) // w) * w  # noqa: E731
    return full * words(g) + np.where(rest > 0, words(rest), 0)


def synapse_field_bits(graph: SynapseGraph, target: Target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per synapse: stored weight bits, delay bits if the delay needs the field, tag bits if plastic."""
    sm, s = target.synapse_memory, target.synapse
    wb = np.where(graph.weight_bits > 0, graph.weight_bits, s.weight_bits_max).astype(np.int64)
    wb = smallest_at_least(sm.weight_bits, wb)
    db = np.where(graph.delay > s.delay_min, sm.delay_bits, 0).astype(np.int64)
    tb = np.where(graph.plastic, sm.tag_bits, 0).astype(np.int64)
    return wb, db, tb


def core_usage(graph: SynapseGraph, core_of: np.ndarray, target: Target,
               n_cores: int | None = None) -> CoreUsage:
    """Usage of every core for the assignment ``core_of`` (neuron -> core id)."""
    core_of = np.asarray(core_of, np.int64)
    n_cores = int(core_of.max(initial=-1)) + 1 if n_cores is None else n_cores
    neurons = np.bincount(core_of, minlength=n_cores)
    c_post = core_of[graph.post]
    key = graph.pre * n_cores + c_post
    uniq, inv = np.unique(key, return_inverse=True)
    pair_core = uniq % n_cores
    pair_pre = uniq // n_cores
    plastic_pair = np.zeros(len(uniq), bool)
    if graph.plastic.any():
        np.logical_or.at(plastic_pair, inv, graph.plastic)
    slots = np.where(plastic_pair, target.core.plastic_axon_slots, 1)
    input_axons = np.bincount(pair_core, weights=slots, minlength=n_cores).astype(np.int64)
    out_core = core_of[pair_pre]
    output_axons = np.bincount(out_core, minlength=n_cores)
    fan = np.bincount(pair_pre, minlength=graph.n_neurons)
    max_fan = np.zeros(n_cores, np.int64)
    np.maximum.at(max_fan, core_of, fan)
    if target.core.memory_model == "nengo_loihi" and len(uniq):
        wb, db, tb = synapse_field_bits(graph, target)
        per_syn = np.zeros(len(uniq), np.int64)
        np.maximum.at(per_syn, inv, wb)
        d = np.zeros(len(uniq), np.int64)
        np.maximum.at(d, inv, db)
        t = np.zeros(len(uniq), np.int64)
        np.maximum.at(t, inv, tb)
        per_syn += d + t + index_bits_for(target, neurons)[pair_core]
        n_syn = np.bincount(inv, minlength=len(uniq))
        bits = axon_memory_bits(target, n_syn, per_syn)
        memory = np.bincount(pair_core, weights=bits, minlength=n_cores).astype(np.int64)
    else:
        memory = np.zeros(n_cores, np.int64)
    return CoreUsage(neurons, input_axons, output_axons, memory, max_fan)


def violations(usage: CoreUsage, target: Target) -> np.ndarray:
    """Boolean per core: some capacity (other than output axons) exceeded."""
    c = target.core
    bad = (usage.neurons > c.max_neurons) | (usage.input_axons > c.max_input_axons)
    if c.memory_model == "nengo_loihi":
        bad |= usage.memory_bits > c.synapse_memory_bits
    return bad


def output_violations(usage: CoreUsage, target: Target) -> np.ndarray:
    """Boolean per core: output axons or per-neuron fan-out exceeded."""
    c, s = target.core, target.synapse
    bad = np.zeros(len(usage.neurons), bool)
    if c.max_output_axons:
        bad |= usage.output_axons > c.max_output_axons
    if s.max_fan_out_cores:
        bad |= usage.max_fan_out_cores > s.max_fan_out_cores
    return bad
