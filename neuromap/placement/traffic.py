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

from neuromap.counting_sort import stable_order
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
    """Distinct (source neuron, target core) pairs: two int64 arrays, sorted by neuron then core.

    One pair = one output-axon entry on the source core = one packet per spike.
    """
    core_of = np.asarray(core_of, np.int64)
    hit = _last.get("key")
    if hit is not None and hit[0]() is graph and np.array_equal(hit[1], core_of):
        return _last["pairs"]            # the partition's objective and the report ask for the same pairs
    n_cores = int(core_of.max(initial=-1)) + 1
    by_pre = stable_order([(graph.pre, graph.n_neurons)], graph.n_synapses)   # counting sort, O(synapses)
    pairs = _target_cores(by_pre, graph.pre, graph.post, core_of, max(n_cores, 1))
    del by_pre
    _last.clear()
    _last.update(key=(weakref.ref(graph), core_of.copy()), pairs=pairs)
    weakref.finalize(graph, _last.clear)      # the pairs never outlive their graph
    return pairs


#: the last call of :func:`neuron_target_cores` (graph weakly referenced; cleared with the graph)
_last: dict = {}


@numba.njit(cache=True)
def _target_cores(by_pre, pre, post, core_of, n_cores):  # pragma: no cover - compiled
    """Distinct target cores of each source (synapses listed by source in ``by_pre``), each source's
    cores ascending; a first sweep counts the pairs so the outputs are allocated once."""
    S = by_pre.shape[0]
    mark = np.full(n_cores, -1, np.int64)
    n_pairs = 0
    for i in range(S):
        k = by_pre[i]
        c = core_of[post[k]]
        if mark[c] != pre[k]:
            mark[c] = pre[k]
            n_pairs += 1
    src = np.empty(n_pairs, np.int64)
    dst = np.empty(n_pairs, np.int64)
    mark[:] = -1
    j = 0
    i = 0
    while i < S:
        v = pre[by_pre[i]]
        j0 = j
        while i < S and pre[by_pre[i]] == v:
            c = core_of[post[by_pre[i]]]
            if mark[c] != v:
                mark[c] = v
                src[j] = v
                dst[j] = c
                j += 1
            i += 1
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
