"""Pack neurons into cores along an order: consecutive runs, each as long as the capacities allow.

Incremental and compiled (numba): adding a neuron updates its core's input-axon slots and
nengo-loihi synapse memory in O(its fan-in), so packing is linear in the synapse count. It keeps the
accounting of :mod:`neuromap.capacity` incrementally (one input axon per (projection, pre neuron)
on a core); ``tests/compiler/test_capacity.py`` checks that every core it closes is full by that accounting
(Brunel 12.5k with 3 M synapses: about a second). Output axons and per-neuron fan-out
cores depend on where the targets land, so cores that exceed them are cut afterwards
(:func:`repair_outputs`), each at the point where the cumulative output count passes the
limit, until no core exceeds it.
"""
from __future__ import annotations

import numba
import numpy as np

from neuromap.counting_sort import group_by_lookup, index_dtype
from neuromap.errors import TargetError
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.joins import roots, unit_order
from neuromap.placement.usage import core_usage, graph_input_axons, output_violations, smallest_at_least, violations
from neuromap.targets import Target


def compact(core_of: np.ndarray) -> np.ndarray:
    """Renumber cores 0..k-1 in order of their first neuron."""
    core_of = np.asarray(core_of, np.int64)
    _, first = np.unique(core_of, return_index=True)
    used = core_of[np.sort(first)]
    remap = np.full(int(core_of.max(initial=-1)) + 1, -1, np.int64)
    remap[used] = np.arange(len(used))
    return remap[core_of]


def synapses_by_position(graph: SynapseGraph, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, perm): the synapses stably grouped by their post neuron's position ``pos[post]`` (neuron at position i:
    ``perm[ptr[i]:ptr[i+1]]``), one counting pass with no key array and no second buffer (4 bytes per synapse)."""
    perm = np.empty(graph.n_synapses, index_dtype(max(graph.n_synapses, 1)))
    ptr = group_by_lookup(graph.post, pos, graph.n_neurons, perm)
    return ptr, perm


def pack_order(graph: SynapseGraph, target: Target, order: np.ndarray) -> np.ndarray:
    """Neuron -> core (int64): fill cores with consecutive runs of ``order`` under every capacity.

    Raises :class:`TargetError` naming the neuron if one neuron alone exceeds a core. Join groups
    (``graph.join_parent``) are packed as units: their members moved together in ``order``
    (:func:`~.joins.unit_order`), never cut by a core boundary.
    """
    n = graph.n_neurons
    order, unit_end = unit_order(order, graph.join_parent)
    pos = np.empty(n, np.int32 if n < 2 ** 31 else np.int64)     # int32: the synapses' sort keys are half the size
    pos[order] = np.arange(n)
    ptr, perm = synapses_by_position(graph, pos)
    cap, sm, s = target.core, target.synapse_memory, target.synapse
    nengo = cap.memory_model == "nengo_loihi"
    wlut = smallest_at_least(sm.weight_bits, np.arange(64)).astype(np.int64)   # stored width of b bits
    starts, bad = _pack(n, ptr, perm, unit_end, graph.axon_source, int(graph.source_pre.shape[0]), graph.weight_bits,
                        graph.delay, graph.plastic, wlut, int(s.weight_bits_max), int(s.delay_min),
                        int(sm.delay_bits), int(sm.tag_bits),
                        int(cap.max_neurons), int(cap.max_input_axons), int(cap.plastic_axon_slots),
                        nengo, int(cap.synapse_memory_bits or 0), int(sm.synapses_per_group),
                        int(sm.group_header_bits), int(sm.word_bits), np.asarray(sm.index_bits, np.int64))
    if bad >= 0:
        joined = " with its joined compartments" if unit_end[bad] > bad + 1 else ""
        raise TargetError(f"neuron {int(order[bad])}{joined} alone exceeds one {target.name} core "
                          "(too many inputs or too much synapse memory; split its fan-in)")
    core_at = np.zeros(n, np.int64)
    core_at[starts[1:]] = 1
    core_of = np.empty(n, np.int64)
    core_of[order] = np.cumsum(core_at)
    return repair_outputs(graph, target, core_of, pos, (ptr, perm))


@numba.njit(cache=True)
def _axon_bits(cnt, bits, g, h, w):  # pragma: no cover - compiled
    full, rest = cnt // g, cnt % g
    out = full * (-(-(g * bits + h) // w) * w)
    if rest > 0:
        out += -(-(rest * bits + h) // w) * w
    return out


@numba.njit(cache=True)
def _index_bits(m, opts):  # pragma: no cover - compiled
    need = 0
    while (1 << need) < m:
        need += 1
    for o in opts:
        if o >= need:
            return o
    return -1


@numba.njit(cache=True)
def _pack(n, ptr, perm, unit_end, src, n_pre, wbits, delay, plastic_syn, wlut, wmax, delay_min, delay_bits, tag_bits,
          max_neurons, max_axons, pslots, nengo, mem_limit, g, h, w, index_opts):  # pragma: no cover - compiled
    """Core start positions along the order; second value: position of a neuron too big alone, else -1.
    Synapses of the neuron at position i: ``perm[ptr[i]:ptr[i+1]]``; ``unit_end[i]``: the end of the unit (a
    join group, else one neuron) starting at position i, added or refused whole; ``src``: the axon source
    (projection, pre neuron) of every synapse, ids ``0..n_pre-1``; field widths from ``wbits`` (0 = wmax,
    stored as ``wlut[b]``), ``delay`` > delay_min (delay field) and ``plastic_syn`` (tag field)."""
    # per axon source one row (one cache line; at 100 M synapses the sources' columns passed the L3 cache):
    # the core that last opened it, its synapses there, and its widest weight, delay and tag fields and plastic flag
    st = np.zeros((max(n_pre, 1), 8), np.int32)
    st[:, 0] = -1
    starts = [0]
    core = 0
    m = 0            # neurons on the current core
    slots = 0
    mem = 0
    ib = _index_bits(1, index_opts)
    touched = [0]
    touched.pop()
    # undo log for the unit being added: (pre, was_new, cnt, mw, md, mt, pl)
    i = 0
    while i < n:
        e = unit_end[i]
        log_p = []
        log_v = []
        old_slots, old_mem, old_ib = slots, mem, ib
        new_ib = _index_bits(m + e - i, index_opts)
        if nengo and new_ib != ib:  # index width grows: every axon's synapses get wider
            mem = 0
            for p in touched:
                mem += _axon_bits(st[p, 1], st[p, 2] + st[p, 3] + st[p, 4] + new_ib, g, h, w)
            ib = new_ib
        for k in range(ptr[i], ptr[e]):
            q = perm[k]
            p = src[q]
            b = wbits[q]
            wbk = wlut[b if b > 0 else wmax]
            dbk = delay_bits if delay[q] > delay_min else 0
            tbk = tag_bits if plastic_syn[q] else 0
            new = st[p, 0] != core
            log_p.append(p)
            log_v.append((new, st[p, 1], st[p, 2], st[p, 3], st[p, 4], st[p, 5]))
            if new:
                st[p, 0] = core
                st[p, 1] = 0
                st[p, 2] = 0
                st[p, 3] = 0
                st[p, 4] = 0
                st[p, 5] = 0
                slots += 1
                touched.append(p)
                old_bits = 0
            else:
                old_bits = _axon_bits(st[p, 1], st[p, 2] + st[p, 3] + st[p, 4] + ib, g, h, w)
            if plastic_syn[q] and st[p, 5] == 0:
                st[p, 5] = 1
                slots += pslots - 1
            st[p, 1] += 1
            st[p, 2] = max(st[p, 2], wbk)
            st[p, 3] = max(st[p, 3], dbk)
            st[p, 4] = max(st[p, 4], tbk)
            if nengo:
                mem += _axon_bits(st[p, 1], st[p, 2] + st[p, 3] + st[p, 4] + ib, g, h, w) - old_bits
        if m + e - i <= max_neurons and slots <= max_axons and (not nengo or mem <= mem_limit):
            m += e - i
            i = e
            continue
        # undo this unit, close the core, retry it on a fresh core
        for j in range(len(log_p) - 1, -1, -1):
            p = log_p[j]
            new, c0, w0, d0, t0, p0 = log_v[j]
            if new:
                st[p, 0] = -1
                touched.pop()
            st[p, 1], st[p, 2], st[p, 3], st[p, 4], st[p, 5] = c0, w0, d0, t0, p0
        if m == 0:
            return np.array(starts, np.int64), i
        slots, mem, ib = old_slots, old_mem, old_ib
        core += 1
        starts.append(i)
        m, slots, mem = 0, 0, 0
        ib = _index_bits(1, index_opts)
        touched = [0]
        touched.pop()
    return np.array(starts, np.int64), -1


@numba.njit(cache=True)
def _output_axons(members, mptr, pos, ptr, perm, src, source_pre, n_sources, sign, out):  # pragma: no cover
    """``out[v] += sign *`` the input axons that neuron v's sources open on each group of neurons
    (one group = one core: ``members[mptr[g]:mptr[g+1]]``): one per distinct axon source with a
    synapse into the group. O(synapses into the groups + sources)."""
    mark = np.full(n_sources, -1, np.int32)        # group ids (cores) < 2**31; half the cache lines of int64
    for g in range(mptr.shape[0] - 1):
        for j in range(mptr[g], mptr[g + 1]):
            i = pos[members[j]]
            for k in range(ptr[i], ptr[i + 1]):
                a = src[perm[k]]
                if mark[a] != g:
                    mark[a] = g
                    out[source_pre[a]] += sign


def _grouped(core_of: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ids`` grouped by core (stable) and the group boundaries."""
    ids = ids[np.argsort(core_of[ids], kind="stable")]
    c = core_of[ids]
    cuts = np.flatnonzero(np.diff(c)) + 1
    return ids, np.concatenate([[0], cuts, [ids.size]]).astype(np.int64)


def repair_outputs(graph: SynapseGraph, target: Target, core_of: np.ndarray, pos: np.ndarray,
                   csr: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Split cores whose output axons exceed the limit into ceil(outputs / limit) equal runs along
    ``pos``, repeatedly; a neuron whose own output axons exceed ``max_output_axons`` or whose target
    cores exceed ``max_fan_out_cores`` is an error. A join group (``graph.join_parent``, consecutive along ``pos``)
    is never cut. ``csr``: (ptr, perm) listing the synapses of the
    neuron at position i as ``perm[ptr[i]:ptr[i+1]]`` (computed if not given). Output-axon counts are
    updated only for the synapses into the cores a round splits (O(synapses) over all rounds)."""
    cap, syn = target.core, target.synapse
    core_of = compact(core_of)
    n = graph.n_neurons
    ptr, perm = synapses_by_position(graph, pos) if csr is None else csr
    n_src = int(graph.source_pre.shape[0])
    fan = np.zeros(n, np.int64)                       # output axons of each neuron
    if cap.max_output_axons:
        members, mptr = _grouped(core_of, np.arange(n))
        _output_axons(members, mptr, pos, ptr, perm, graph.axon_source, graph.source_pre, n_src, 1, fan)
    while True:
        if cap.max_output_axons and fan.max(initial=0) > cap.max_output_axons:
            v = int(np.argmax(fan))
            raise TargetError(
                f"neuron {v} needs {int(fan[v])} output axons (one per projection and target core); "
                f"{target.name} allows {cap.max_output_axons} per core (reduce its fan-out or add relay neurons)")
        n_cores = int(core_of.max(initial=-1)) + 1
        out = np.bincount(core_of, weights=fan, minlength=n_cores).astype(np.int64) if cap.max_output_axons \
            else np.zeros(n_cores, np.int64)
        bad = out > cap.max_output_axons if cap.max_output_axons else np.zeros(n_cores, bool)
        if not bad.any():
            break
        # split each bad core into ceil(out / limit) equal runs along the packing order: equal
        # pieces keep cores large, so targets stay on few cores (cutting at the limit leaves small
        # remainders that spread every source's targets and cascade)
        idx = np.flatnonzero(bad[core_of])
        idx = idx[np.lexsort((pos[idx], core_of[idx]))]
        members, mptr = _grouped(core_of, idx)
        _output_axons(members, mptr, pos, ptr, perm, graph.axon_source, graph.source_pre, n_src, -1, fan)
        c = core_of[idx]
        first = np.searchsorted(c, c)                       # index of the core's first neuron in idx
        size = np.bincount(c, minlength=n_cores)[c]
        parts = np.ceil(out[c] / cap.max_output_axons).astype(np.int64)
        piece = ((np.arange(idx.size) - first) * parts) // size
        if graph.join_parent is not None:   # a join group (consecutive in idx) takes its first member's piece
            r = roots(graph.join_parent, n)[idx]
            lead = np.concatenate([[True], r[1:] != r[:-1]])
            piece = piece[np.maximum.accumulate(np.where(lead, np.arange(idx.size), 0))]
        core_of = core_of.copy()
        core_of[idx] = n_cores + c * int(parts.max(initial=1)) + piece
        if np.unique(core_of).size == n_cores:      # no bad core could be cut: each is one join group
            v = int(idx[0])
            raise TargetError(f"neuron {v} and its joined compartments need {int(out[c[0]])} output "
                              f"axons on one core; {target.name} allows {cap.max_output_axons} per core (reduce "
                              "their fan-out or add relay neurons)")
        members, mptr = _grouped(core_of, idx)
        _output_axons(members, mptr, pos, ptr, perm, graph.axon_source, graph.source_pre, n_src, 1, fan)
        core_of = compact(core_of)
    if syn.max_fan_out_cores:
        axons = graph_input_axons(graph, core_of, target)
        n_cores = int(core_of.max(initial=-1)) + 1
        cores_of = np.bincount(np.unique(axons.source * n_cores + axons.core) // n_cores, minlength=n)
        if cores_of.max(initial=0) > syn.max_fan_out_cores:
            v = int(np.argmax(cores_of))
            raise TargetError(f"neuron {v} targets {int(cores_of[v])} cores; {target.name} allows "
                              f"{syn.max_fan_out_cores} target cores per neuron (reduce its fan-out or add "
                              "relay neurons)")
    return core_of


def core_usage_ok(graph: SynapseGraph, target: Target, core_of: np.ndarray) -> bool:
    """True when ``core_of`` meets every capacity (fast vectorized accounting)."""
    u = core_usage(graph, core_of, target)
    return not (violations(u, target).any() or output_violations(u, target).any())
