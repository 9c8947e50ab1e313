"""Traffic model: expected packets per step between cores.

A neuron spiking with probability ``rate`` per step (spikes/step) sends one packet
to each *distinct* core that holds at least one of its targets: a spike to k
target cores costs k packets. Rates come from a reference run (spike counts /
steps), from the user, or are uniform.
"""
from __future__ import annotations

import weakref

import numba
import numpy as np
import scipy.sparse as sp

from neuromap.counting_sort import index_dtype, stable_order
from neuromap.placement.graph import SynapseGraph


def uniform_rates(n_neurons: int, rate: float = 1.0) -> np.ndarray:
    """Every neuron spikes ``rate`` times per step (default 1: traffic counts fan-out edges)."""
    return np.full(n_neurons, float(rate))


def rates_from_spikes(spike_counts: np.ndarray, n_steps: int) -> np.ndarray:
    """Spikes per step from per-neuron spike counts over ``n_steps`` steps."""
    return np.asarray(spike_counts, float) / max(int(n_steps), 1)


def rates_from_hz(rates_hz: np.ndarray, dt_ms: float) -> np.ndarray:
    """Spikes per step from rates in Hz and the step ``dt_ms`` in milliseconds."""
    return np.asarray(rates_hz, float) * dt_ms * 1e-3


def neuron_target_cores(graph: SynapseGraph, core_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (source neuron, target core) pairs: two index arrays (int32 below 2**31 ids), sorted by
    neuron then core.

    One pair = one output-axon entry on the source core = one packet per spike.
    """
    core_of = np.asarray(core_of, np.int64)
    hit = _last.get("key")
    if hit is not None and hit[0]() is graph and np.array_equal(hit[1], core_of):
        return _last["pairs"]            # the partition's objective and the report ask for the same pairs
    n_cores = int(core_of.max(initial=-1)) + 1
    ptr, post_by_pre = _by_pre(graph)
    like = np.zeros(0, index_dtype(max(graph.n_neurons, n_cores)))     # int32 pairs below 2**31 ids
    pairs = _target_cores(ptr, post_by_pre, core_of, max(n_cores, 1), like)
    _last.clear()
    _last.update(key=(weakref.ref(graph), core_of.copy()), pairs=pairs)
    weakref.finalize(graph, _last.clear)      # the pairs never outlive their graph
    return pairs


def release_caches() -> None:
    """Drop the cached pairs and posts-by-pre of the last graph (:func:`neuron_target_cores`, :func:`_by_pre`;
    ~9 bytes per synapse) once the placement no longer asks for them (the place pass, before its report)."""
    _last.clear()
    _csr.clear()


#: the last call of :func:`neuron_target_cores` (graph weakly referenced; cleared with the graph)
_last: dict = {}
#: :func:`_by_pre` of the last graph asked (weakly referenced; cleared with the graph)
_csr: dict = {}


def _by_pre(graph: SynapseGraph) -> tuple[np.ndarray, np.ndarray]:
    """The graph's posts listed by pre neuron (CSR: ``post_by_pre[ptr[v]:ptr[v+1]]``, synapse order within a
    pre), one counting sort per graph (kept for the graph's next calls: the partition's objective, the
    traffic matrix and the report ask for the same graph under several assignments)."""
    hit = _csr.get("key")
    if hit is not None and hit() is graph:
        return _csr["value"]
    by_pre = stable_order([(graph.pre, graph.n_neurons)], graph.n_synapses)   # counting sort, O(synapses)
    post_by_pre = graph.post[by_pre].astype(index_dtype(graph.n_neurons))
    del by_pre
    ptr = np.zeros(graph.n_neurons + 1, np.int64)
    np.cumsum(np.bincount(graph.pre, minlength=graph.n_neurons), out=ptr[1:])
    _csr.clear()
    _csr.update(key=weakref.ref(graph), value=(ptr, post_by_pre))
    weakref.finalize(graph, _csr.clear)
    return ptr, post_by_pre


@numba.njit(cache=True)
def _target_cores(ptr, post_by_pre, core_of, n_cores, like):  # pragma: no cover - compiled
    """Distinct target cores of each source (its posts ``post_by_pre[ptr[v]:ptr[v+1]]``), each source's
    cores ascending; a first sweep counts the pairs so the outputs are allocated once."""
    n = ptr.shape[0] - 1
    mark = np.full(n_cores, -1, np.int64)
    n_pairs = 0
    for v in range(n):
        for k in range(ptr[v], ptr[v + 1]):
            c = core_of[post_by_pre[k]]
            if mark[c] != v:
                mark[c] = v
                n_pairs += 1
    src = np.empty(n_pairs, like.dtype)
    dst = np.empty(n_pairs, like.dtype)
    mark[:] = -1
    j = 0
    for v in range(n):
        j0 = j
        for k in range(ptr[v], ptr[v + 1]):
            c = core_of[post_by_pre[k]]
            if mark[c] != v:
                mark[c] = v
                src[j] = v
                dst[j] = c
                j += 1
        if j - j0 > 32:                     # many cores: a library sort of the run
            dst[j0:j] = np.sort(dst[j0:j])
            continue
        for a in range(j0 + 1, j):          # insertion sort of this source's few cores, in place
            x = dst[a]
            b = a - 1
            while b >= j0 and dst[b] > x:
                dst[b + 1] = dst[b]
                b -= 1
            dst[b + 1] = x
    return src, dst


def core_traffic(graph: SynapseGraph, core_of: np.ndarray, rates: np.ndarray,
                 n_cores: int | None = None) -> sp.csr_matrix:
    """Packets per step from core a (row) to core b (column), a CSR matrix (diagonal = local)."""
    n_cores = int(core_of.max(initial=-1)) + 1 if n_cores is None else n_cores
    src, dst_core = neuron_target_cores(graph, core_of)
    m = sp.coo_matrix((rates[src], (core_of[src], dst_core)), shape=(n_cores, n_cores))
    return m.tocsr()


def inter_core_packets(graph: SynapseGraph, core_of: np.ndarray, rates: np.ndarray) -> float:
    """Packets per step that leave their source core (the partition objective)."""
    src, dst_core = neuron_target_cores(graph, core_of)
    off = core_of[src] != dst_core
    return float(rates[src[off]].sum())


def synaptic_ops(graph: SynapseGraph, rates: np.ndarray) -> float:
    """Synaptic operations per step: every synapse is processed once per presynaptic spike."""
    return float(rates[graph.pre].sum())
