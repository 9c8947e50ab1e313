"""Per-core resource usage of a synapse graph under an assignment: the graph side of
:mod:`neuromap.capacity` (which holds the capacity model and does all the counting).

:func:`graph_input_axons` lists the input axons an assignment creates -- one per (core, projection,
pre neuron), exactly the axons the lowered image will hold -- in O(synapses) (a compiled counting
pass, no sort); :func:`core_usage` counts them with :func:`neuromap.capacity.count`.
"""
from __future__ import annotations

import numba
import numpy as np

from neuromap.capacity import (
    CoreLimits,
    CoreUsage,
    InputAxons,
    axon_memory_bits as _axon_memory_bits,
    count,
    index_bits as _index_bits,
    over,
    smallest_at_least,
)
from neuromap.counting_sort import group_by_lookup, index_dtype
from neuromap.placement.graph import SynapseGraph
from neuromap.targets import Target

__all__ = ["CoreUsage", "core_usage", "graph_input_axons", "violations", "output_violations",
           "smallest_at_least", "index_bits_for", "axon_memory_bits", "synapse_field_bits"]


def index_bits_for(target: Target, n_neurons_on_core: np.ndarray) -> np.ndarray:
    """Index field width for cores holding ``n`` neurons: smallest allowed >= ceil(log2 n)."""
    return _index_bits(CoreLimits.from_target(target), n_neurons_on_core)


def axon_memory_bits(target: Target, n_syn: np.ndarray, bits_per_synapse: np.ndarray) -> np.ndarray:
    """nengo-loihi memory bits of input axons with ``n_syn`` synapses of ``bits_per_synapse`` each."""
    return _axon_memory_bits(CoreLimits.from_target(target), n_syn, bits_per_synapse)


def synapse_field_bits(graph: SynapseGraph, target: Target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per synapse: stored weight bits, delay bits if the delay needs the field, tag bits if plastic."""
    sm, s = target.synapse_memory, target.synapse
    wb = np.where(graph.weight_bits > 0, graph.weight_bits, s.weight_bits_max).astype(np.int64)
    wb = smallest_at_least(sm.weight_bits, wb)
    db = np.where(graph.delay > s.delay_min, sm.delay_bits, 0).astype(np.int64)
    tb = np.where(graph.plastic, sm.tag_bits, 0).astype(np.int64)
    return wb, db, tb


@numba.njit(cache=True)
def _axon_table(core_of, post, src, wbits, delay, plastic, n_cores, source_pre, delay_min, perm,
                like):  # pragma: no cover
    """Input axons of an assignment: synapses grouped by core (counting sort into ``perm``), then one
    axon per distinct source on each core (a mark array stamped with the core id); a first sweep
    counts the axons so the outputs are allocated once. O(synapses + cores + sources)."""
    cnt = group_by_lookup(post, core_of, n_cores, perm)
    n_sources = source_pre.shape[0]
    # per source one row (mark: the core that last opened it; slot: that axon), in perm's index dtype: the
    # sources' two int64 columns passed the L3 cache at 100 M synapses (one miss each per synapse)
    ms = np.empty((n_sources, 2), perm.dtype)
    ms[:, 0] = -1
    A = 0
    for c in range(n_cores):
        for i in range(cnt[c], cnt[c + 1]):
            s = src[perm[i]]
            if ms[s, 0] != c:
                ms[s, 0] = c
                A += 1
    ms[:, 0] = -1
    a_core = np.empty(A, np.int32)
    a_src = np.empty(A, like.dtype)     # the pre neuron of each axon's source (int32 below 2**31 ids)
    a_n = np.zeros(A, np.int32)
    a_w = np.zeros(A, np.int8)
    a_d = np.zeros(A, np.bool_)
    a_p = np.zeros(A, np.bool_)
    a = 0
    A = 0
    for c in range(n_cores):
        for i in range(cnt[c], cnt[c + 1]):
            k = perm[i]
            s = src[k]
            if ms[s, 0] != c:
                ms[s, 0] = c
                ms[s, 1] = A
                a_core[A] = c
                a_src[A] = source_pre[s]
                A += 1
            a = ms[s, 1]
            a_n[a] += 1
            if wbits[k] > a_w[a]:
                a_w[a] = wbits[k]
            if delay[k] > delay_min:
                a_d[a] = True
            if plastic[k]:
                a_p[a] = True
    return a_core, a_src, a_n, a_w, a_d, a_p


def _index_array(n: int) -> np.ndarray:
    """Scratch array for ``n`` synapse indices, int32 when they fit (half the memory)."""
    return np.empty(n, np.int32 if n < 2 ** 31 else np.int64)


def graph_input_axons(graph: SynapseGraph, core_of: np.ndarray, target: Target,
                      n_cores: int | None = None) -> InputAxons:
    """The input axons of assigning neuron i to core ``core_of[i]`` (sources are pre neuron ids)."""
    core_of = np.asarray(core_of, np.int64)
    n_cores = int(core_of.max(initial=-1)) + 1 if n_cores is None else int(n_cores)
    c, s, n, w, d, p = _axon_table(core_of, graph.post, graph.axon_source, graph.weight_bits, graph.delay,
                                   graph.plastic, n_cores, graph.source_pre, int(target.synapse.delay_min),
                                   _index_array(graph.n_synapses), np.zeros(0, index_dtype(graph.n_neurons)))
    return InputAxons(c, s, n, w, d, p)


def core_usage(graph: SynapseGraph, core_of: np.ndarray, target: Target,
               n_cores: int | None = None) -> CoreUsage:
    """Usage of every core for the assignment ``core_of`` (neuron -> core id)."""
    core_of = np.asarray(core_of, np.int64)
    n_cores = int(core_of.max(initial=-1)) + 1 if n_cores is None else int(n_cores)
    axons = graph_input_axons(graph, core_of, target, n_cores)
    return count(CoreLimits.from_target(target), n_cores, core_of, axons)


def violations(usage: CoreUsage, target: Target) -> np.ndarray:
    """Boolean per core: some capacity (other than output axons and fan-out) exceeded."""
    return over(usage, CoreLimits.from_target(target), ("neurons", "input_axons", "synapse_memory_bits"))


def output_violations(usage: CoreUsage, target: Target) -> np.ndarray:
    """Boolean per core: output axons or per-neuron fan-out exceeded."""
    return over(usage, CoreLimits.from_target(target), ("output_axons", "fan_out_cores"))
