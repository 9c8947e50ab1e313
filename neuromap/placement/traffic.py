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

from neuromap.counting_sort import group_by_lookup, group_values_by_key, index_dtype
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.routing import all_whole


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
    # one counting pass writing the posts themselves (no per-synapse index array: 4 B per synapse less at the peak)
    post_by_pre = np.empty(graph.n_synapses, index_dtype(graph.n_neurons))
    ptr = group_values_by_key(graph.pre, graph.n_neurons, graph.post, post_by_pre)
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


def whole_rates(rates: np.ndarray, n_terms: int) -> bool:
    """Every rate a whole number >= 0 and ``n_terms`` of the largest below 2**53: then every sum of them is
    exact in any order, so a compiled pass in its own order gives the same float as numpy's (the default
    ``uniform`` rates)."""
    rates = np.asarray(rates)
    if rates.size == 0:
        return True
    top = float(rates.max())
    return bool(rates.min() >= 0 and np.isfinite(top) and top * max(int(n_terms), 1) < 2.0 ** 53
                and all_whole(np.asarray(rates, np.float64)))


def core_traffic(graph: SynapseGraph, core_of: np.ndarray, rates: np.ndarray,
                 n_cores: int | None = None) -> sp.csr_matrix:
    """Packets per step from core a (row) to core b (column), a CSR matrix (diagonal = local).

    With whole-number rates (:func:`whole_rates`; the default ``uniform``) one compiled pass over the graph's
    posts by pre builds the canonical CSR directly (12 bytes per entry, no (source, core) pairs and no COO
    temporaries); otherwise scipy's COO -> CSR of the pairs (its summation order). Same matrix, dtypes included."""
    n_cores = int(core_of.max(initial=-1)) + 1 if n_cores is None else n_cores
    rates = np.asarray(rates, np.float64)
    if whole_rates(rates, graph.n_synapses):
        ptr, post_by_pre = _by_pre(graph)
        core_of = np.asarray(core_of, np.int64)
        if core_of.size and (core_of.min() < 0 or core_of.max() >= n_cores):
            raise ValueError(f"core ids must be in 0..{n_cores - 1}")
        order = np.empty(core_of.size, np.int64)          # graph nodes grouped by core, ascending within a core
        row_start = group_by_lookup(core_of, np.arange(max(n_cores, 1), dtype=np.int64), max(n_cores, 1), order)
        narrow = core_of.astype(index_dtype(max(n_cores, 1)))   # read once per synapse: half the cache lines
        counts, n_pairs = _row_counts(ptr, post_by_pre, narrow, order, row_start)
        like = np.zeros(0, index_dtype(max(n_pairs, n_cores)))          # scipy's index dtype for these sizes
        indptr, indices, data = _fill_rows(ptr, post_by_pre, narrow, order, row_start, counts, rates, like)
        del narrow
        return sp.csr_matrix((data, indices, indptr), shape=(n_cores, n_cores))
    src, dst_core = neuron_target_cores(graph, core_of)
    m = sp.coo_matrix((rates[src], (core_of[src], dst_core)), shape=(n_cores, n_cores))
    return m.tocsr()


@numba.njit(cache=True)
def _row_counts(ptr, post_by_pre, core_of, order, row_start):  # pragma: no cover - compiled
    """Distinct target cores of each core's sources together (the row's entries) and the number of distinct
    (source, target core) pairs."""
    n_rows = row_start.shape[0] - 1            # = the matrix's cores (every core id below it)
    mark_v = np.full(n_rows, -1, np.int64)
    mark_r = np.full(n_rows, -1, np.int64)
    counts = np.zeros(n_rows, np.int64)
    n_pairs = 0
    for r in range(n_rows):
        m = 0
        for i in range(row_start[r], row_start[r + 1]):
            v = order[i]
            for k in range(ptr[v], ptr[v + 1]):
                c = core_of[post_by_pre[k]]
                if mark_v[c] != v:
                    mark_v[c] = v
                    n_pairs += 1
                    if mark_r[c] != r:
                        mark_r[c] = r
                        m += 1
        counts[r] = m
    return counts, n_pairs


@numba.njit(cache=True)
def _fill_rows(ptr, post_by_pre, core_of, order, row_start, counts, rates, like):  # pragma: no cover - compiled
    """The CSR of :func:`core_traffic`: per row the packets to each target core (a source's rate once per distinct
    target core), columns ascending."""
    n_rows = row_start.shape[0] - 1
    indptr = np.zeros(n_rows + 1, like.dtype)
    for r in range(n_rows):
        indptr[r + 1] = indptr[r] + counts[r]
    nnz = indptr[n_rows]
    indices = np.empty(nnz, like.dtype)
    data = np.zeros(nnz, np.float64)
    mark_v = np.full(n_rows, -1, np.int64)
    mark_r = np.full(n_rows, -1, np.int64)
    slot = np.zeros(n_rows, np.int64)
    for r in range(n_rows):
        j0 = indptr[r]
        j = j0
        for i in range(row_start[r], row_start[r + 1]):
            v = order[i]
            rv = rates[v]
            for k in range(ptr[v], ptr[v + 1]):
                c = core_of[post_by_pre[k]]
                if mark_v[c] != v:
                    mark_v[c] = v
                    if mark_r[c] != r:
                        mark_r[c] = r
                        slot[c] = j
                        indices[j] = c
                        j += 1
                    data[slot[c]] += rv
        if j - j0 > 32:                     # many target cores: a library sort of the row
            perm = np.argsort(indices[j0:j])
            ind, dat = indices[j0:j][perm], data[j0:j][perm]
            indices[j0:j] = ind
            data[j0:j] = dat
            continue
        for a in range(j0 + 1, j):          # insertion sort of the row's few entries, in place
            x, y = indices[a], data[a]
            b = a - 1
            while b >= j0 and indices[b] > x:
                indices[b + 1] = indices[b]
                data[b + 1] = data[b]
                b -= 1
            indices[b + 1] = x
            data[b + 1] = y
    return indptr, indices, data


def inter_core_packets(graph: SynapseGraph, core_of: np.ndarray, rates: np.ndarray) -> float:
    """Packets per step that leave their source core (the partition objective). Whole-number rates: one compiled
    pass over the posts by pre (no pairs); otherwise the sum over the (source, core) pairs."""
    rates = np.asarray(rates, np.float64)
    if whole_rates(rates, graph.n_synapses):
        ptr, post_by_pre = _by_pre(graph)
        core_of = np.asarray(core_of, np.int64)
        n_cores = int(core_of.max(initial=0)) + 1
        return float(_packets_off_core(ptr, post_by_pre, core_of.astype(index_dtype(n_cores)), rates, n_cores))
    src, dst_core = neuron_target_cores(graph, core_of)
    off = core_of[src] != dst_core
    return float(rates[src[off]].sum())


@numba.njit(cache=True)
def _packets_off_core(ptr, post_by_pre, core_of, rates, n_cores):  # pragma: no cover - compiled
    mark = np.full(n_cores, -1, np.int64)
    total = 0.0
    for v in range(ptr.shape[0] - 1):
        cv = core_of[v]
        for k in range(ptr[v], ptr[v + 1]):
            c = core_of[post_by_pre[k]]
            if mark[c] != v:
                mark[c] = v
                if c != cv:
                    total += rates[v]
    return total


def synaptic_ops(graph: SynapseGraph, rates: np.ndarray) -> float:
    """Synaptic operations per step: every synapse is processed once per presynaptic spike."""
    return float(rates[graph.pre].sum())
