"""Partition neurons into cores under a target's hard capacities, minimizing inter-core traffic.

Methods (``method=``):

- ``sequential``: fill cores in neuron-id (population) order, each core as full as its
  capacities allow -- what users get elsewhere.
- ``greedy``: grow clusters of strongly connected neurons (traffic-weighted, a
  priority queue on the connection weight to the growing cluster), then fill cores
  along that order.
- ``tiles``: convolutional layers cut into spatial tiles through the layer stack, and channel groups where a tile
  exceeds a core (:mod:`.conv_tiles`; needs ``conv_layers``, else ``sequential``).
- ``cpsat``: OR-Tools CP-SAT, started from the best of ``sequential``, ``greedy`` and (with ``conv_layers``)
  ``tiles`` (never worse than any). Small instances (``<= exact_max_neurons``) are solved
  exactly with at most as many cores as that start (hinted; proven bound reported);
  larger ones (up to ``LNS_MAX_SYNAPSES`` synapses) are refined by large-neighbourhood search: windows of two cores
  exchanging the most traffic are freed and re-solved exactly, the rest fixed.

Every method keeps a join group (a dendrite compartment and its soma, ``graph.join_parent``) on one core
(:mod:`.joins`): packing moves its members together and never cuts inside it, CP-SAT ties their core variables,
and a result where a join crosses cores is a one-line :class:`TargetError` (:func:`check_joins_kept`).

Objective: inter-core packets per step (a spike to k distinct other cores = k packets),
then the number of cores. Capacities are hard constraints (:mod:`.usage`). Time: a
:class:`~.budget.Budget` (wall seconds, or deterministic units: CP-SAT deterministic time,
roughly seconds of one core); CP-SAT uses ``num_workers`` fixed workers and ``random_seed``, so a
deterministic budget gives the same partition on every run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numba
import numpy as np
from ortools.sat.python import cp_model

from neuromap.errors import TargetError
from neuromap.placement.budget import Budget, deterministic_budget
from neuromap.placement.conv_tiles import ConvLayer, conv_tiling
from neuromap.placement.cpsat_util import make_solver, solved, status_name
from neuromap.placement.graph import SynapseGraph, sorted_groups
from neuromap.placement.joins import first_split
from neuromap.placement.packing import compact, core_usage_ok, pack_order
from neuromap.placement.traffic import core_traffic, inter_core_packets, uniform_rates
from neuromap.placement.usage import core_usage, index_bits_for, output_violations, synapse_field_bits, violations
from neuromap.targets import Target

METHODS = ("sequential", "greedy", "tiles", "cpsat")
#: above this many synapses the LNS is skipped: measured on 10 k -> 10 k neurons, 1 M synapses (411 cores,
#: bench/placer_budget.py), 14 s of windows lowered the inter-core packets by 0.01 %, and one window
#: costs seconds (full traffic and capacity recounts); the budget is worth more in the mesh annealing
LNS_MAX_SYNAPSES = 500_000
#: first estimate of a window's wall time (model building and solve) per synapse pair (s; then the last
#: window's): under a wall-clock budget no window starts that would not finish in the time left
BUILD_S_PER_PAIR = 1.5e-4  # measured: a 27 k-pair window took 4 s (load 6)


@dataclass
class CoreAssignment:
    """Neuron -> core. ``core_of``: int64 (n_neurons,), cores numbered 0..n_cores-1 without gaps.

    ``objective``: inter-core packets per step; ``bound``: proven lower bound on it
    (None unless the whole instance was solved by CP-SAT); ``stats``: solver counters.
    """

    core_of: np.ndarray
    n_cores: int
    method: str
    objective: float
    bound: float | None = None
    stats: dict = field(default_factory=dict)


def partition(graph: SynapseGraph, target: Target, method: str = "cpsat", rates=None,
              time_limit: float = 10.0, seed: int = 0, num_workers: int = 1,
              exact_max_neurons: int = 48, window_max_pairs: int = 60000,
              baseline: CoreAssignment | None = None, budget: Budget | None = None,
              conv_layers: list[ConvLayer] | None = None) -> CoreAssignment:
    """Assign every neuron of ``graph`` to a core of ``target``; a join group (``graph.join_parent``) on one core.

    ``rates``: spikes per step per neuron (default 1: every fan-out edge counts).
    ``time_limit``: total CP-SAT deterministic time (units as CP-SAT's
    ``max_deterministic_time``). ``cpsat`` starts from the better of the sequential and
    greedy partitions (solution hint / LNS start) and never returns a worse one. Raises
    :class:`TargetError` if one neuron alone exceeds a core. ``baseline``: the ``sequential``
    result for the same graph, target and rates if already computed (saves one packing).
    ``budget`` (:mod:`.budget`, wall or deterministic) replaces ``time_limit`` when given; the
    sequential and greedy starts always run (timed as phases ``partition.sequential`` and
    ``partition.greedy``), CP-SAT (``partition.exact`` / ``partition.lns``) gets what is left.
    ``conv_layers``: the convolutional post populations (:class:`~.conv_tiles.ConvLayer`), for ``tiles`` and as
    ``cpsat``'s third start candidate (phase ``partition.tiles``).
    """
    budget = deterministic_budget(time_limit) if budget is None else budget
    if method not in METHODS:
        raise TargetError(f"placer: unknown partition method {method!r} (use one of {', '.join(METHODS)})")
    rates = uniform_rates(graph.n_neurons) if rates is None else np.asarray(rates, float)
    if baseline is not None:
        seq = baseline
    else:
        with budget.phase("partition.sequential"):
            seq = _result(graph, pack_order(graph, target, np.arange(graph.n_neurons)), rates, "sequential")
    if method == "sequential":
        return _kept(graph, seq)
    tiles = None
    if conv_layers:
        with budget.phase("partition.tiles"):
            core_of = conv_tiling(graph, target, conv_layers, rates,
                                  lambda c: inter_core_packets(graph, c, rates))
            tiles = _result(graph, core_of, rates, "tiles") if core_of is not None else None
    if method == "tiles":
        return _kept(graph, tiles) if tiles is not None else CoreAssignment(
            seq.core_of, seq.n_cores, "tiles", seq.objective, None, {"status": "no conv layer: sequential"})
    size = max(1, int(np.ceil(graph.n_neurons / max(seq.n_cores, 1))))
    with budget.phase("partition.greedy"):
        greedy = _result(graph, pack_order(graph, target, growth_order(graph, rates, size)), rates, "greedy")
    if method == "greedy":
        return _kept(graph, greedy)
    start = min([a for a in (greedy, seq, tiles) if a is not None], key=lambda a: (a.objective, a.n_cores))
    if graph.n_neurons <= exact_max_neurons:
        with budget.phase("partition.exact"):
            res = _exact(graph, target, rates, start, budget, seed, num_workers)
    elif graph.n_synapses > LNS_MAX_SYNAPSES:
        res = CoreAssignment(start.core_of, start.n_cores, "cpsat", start.objective, None,
                             {"status": f"LNS SKIPPED (> {LNS_MAX_SYNAPSES} synapses: does not pay)"})
    else:
        with budget.phase("partition.lns"):
            res = _lns(graph, target, rates, start, budget, seed, num_workers, window_max_pairs)
    res.stats.update(start=start.method, sequential_objective=seq.objective, greedy_objective=greedy.objective)
    if tiles is not None:
        res.stats.update(tiles_objective=tiles.objective, tiles_cores=tiles.n_cores)
    return _kept(graph, res)


def _kept(graph: SynapseGraph, a: CoreAssignment) -> CoreAssignment:
    check_joins_kept(graph, a.core_of)
    return a


def check_joins_kept(graph: SynapseGraph, core_of: np.ndarray) -> None:
    """One-line :class:`TargetError` when a join group (``graph.join_parent``) crosses cores in ``core_of``."""
    d = first_split(graph.join_parent, core_of)
    if d >= 0:
        p = int(graph.join_parent[d])
        raise TargetError(f"placer: dendrite compartment {d} is on core {int(core_of[d])} and the soma it joins ({p}) "
                          f"on core {int(core_of[p])}; a join needs one core (a placer bug: report it, or use "
                          "placer: sequential)")


def _result(graph, core_of, rates, method, bound=None, stats=None) -> CoreAssignment:
    core_of = compact(core_of)
    return CoreAssignment(core_of, int(core_of.max(initial=-1)) + 1, method,
                          inter_core_packets(graph, core_of, rates), bound, stats or {})


# ---------------------------------------------------------------- greedy growth order

def growth_order(graph: SynapseGraph, rates: np.ndarray, cluster_size: int) -> np.ndarray:
    """Neuron order made of clusters of ``cluster_size`` grown by strongest connection.

    Edge weight between i and j: the packets a shared core saves, rate_i + rate_j per
    connected pair. Each cluster starts from the unassigned neuron most connected to the
    previous cluster (so consecutive clusters are neighbours), else the lowest free id.
    """
    n = graph.n_neurons
    a, b = np.concatenate([graph.pre, graph.post]), np.concatenate([graph.post, graph.pre])
    keep = a != b
    a, b = a[keep], b[keep]
    perm, starts = sorted_groups(a, n, b, n)          # distinct (a, b) pairs in order: two counting sorts
    first = perm[starts]
    del perm, starts
    a, b = a[first], b[first]
    w = rates[a] + rates[b] + 1e-9
    ptr = np.searchsorted(a, np.arange(n + 1))
    return _grow(n, ptr, b, w, int(cluster_size))


@numba.njit(cache=True)
def _grow(n, ptr, nbr, w, size):  # pragma: no cover - compiled
    order = np.empty(n, np.int64)
    done = np.zeros(n, np.bool_)
    gain = np.zeros(n, np.float64)
    carry = np.zeros(n, np.float64)
    pos = 0
    lowest = 0
    seed = -1
    while pos < n:
        if seed < 0:
            while done[lowest]:
                lowest += 1
            seed = lowest
        heap = [(-0.0, seed)]
        touched = [seed]
        count = 0
        while count < size and pos < n:
            if len(heap) == 0:
                while lowest < n and done[lowest]:
                    lowest += 1
                if lowest >= n:
                    break
                heap.append((-0.0, lowest))
            g, v = heapq_pop(heap)
            if done[v] or -g < gain[v] - 1e-12:
                continue
            done[v] = True
            order[pos] = v
            pos += 1
            count += 1
            for k in range(ptr[v], ptr[v + 1]):
                u = nbr[k]
                if not done[u]:
                    if gain[u] == 0.0:
                        touched.append(u)
                    gain[u] += w[k]
                    heapq_push(heap, (-gain[u], u))
        # next seed: the free neuron most connected to this cluster
        seed = -1
        best = 0.0
        for u in touched:
            if not done[u] and gain[u] > best:
                best = gain[u]
                seed = u
            gain[u] = 0.0
        for u in touched:
            carry[u] = 0.0
    return order


@numba.njit(cache=True)
def heapq_push(heap, item):  # pragma: no cover - compiled
    heap.append(item)
    i = len(heap) - 1
    while i > 0:
        p = (i - 1) // 2
        if heap[i][0] < heap[p][0] or (heap[i][0] == heap[p][0] and heap[i][1] < heap[p][1]):
            heap[i], heap[p] = heap[p], heap[i]
            i = p
        else:
            break


@numba.njit(cache=True)
def heapq_pop(heap):  # pragma: no cover - compiled
    top = heap[0]
    last = heap.pop()
    if len(heap) > 0:
        heap[0] = last
        i = 0
        m = len(heap)
        while True:
            l, r, s = 2 * i + 1, 2 * i + 2, i
            if l < m and (heap[l][0] < heap[s][0] or (heap[l][0] == heap[s][0] and heap[l][1] < heap[s][1])):
                s = l
            if r < m and (heap[r][0] < heap[s][0] or (heap[r][0] == heap[s][0] and heap[r][1] < heap[s][1])):
                s = r
            if s == i:
                break
            heap[i], heap[s] = heap[s], heap[i]
            i = s
    return top


# ---------------------------------------------------------------- CP-SAT: exact and LNS windows

_RATE_SCALE = 1000  # rates are rounded to 1/_RATE_SCALE spikes per step in CP-SAT objectives


def _int_rates(rates: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer objective weights: exact when all rates are integers, else rates * 1000 rounded."""
    if np.all(rates == np.round(rates)):
        return rates.astype(np.int64), 1
    return np.maximum(np.round(rates * _RATE_SCALE), 0).astype(np.int64), _RATE_SCALE


@dataclass
class _Index:
    """Synapse indices grouped by post and by pre neuron (CSR), so windows touch only their synapses."""

    by_post: np.ndarray
    post_ptr: np.ndarray
    by_pre: np.ndarray
    pre_ptr: np.ndarray

    @staticmethod
    def of(graph: SynapseGraph) -> "_Index":
        n = graph.n_neurons
        bp = np.argsort(graph.post, kind="stable")
        br = np.argsort(graph.pre, kind="stable")
        return _Index(bp, np.searchsorted(graph.post[bp], np.arange(n + 1)),
                      br, np.searchsorted(graph.pre[br], np.arange(n + 1)))

    @staticmethod
    def gather(perm: np.ndarray, ptr: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Synapse indices of neurons ``ids`` (sorted ascending)."""
        ids = np.asarray(ids, np.int64)
        lens = ptr[ids + 1] - ptr[ids]
        if lens.sum() == 0:
            return np.zeros(0, np.int64)
        starts = np.repeat(ptr[ids] - np.cumsum(np.r_[0, lens[:-1]]), lens)
        return np.sort(perm[starts + np.arange(lens.sum())])


def _solve_window(graph, target, rates_int, core_of, window, time_limit, seed, num_workers,
                  index=None, usage=None, budget=None):
    """Re-solve the neurons of cores ``window`` (all freed) with every other neuron fixed.

    ``index`` (:class:`_Index`) and ``usage`` (:func:`core_usage` of ``core_of``) are computed
    when not given; the LNS passes them so a window costs time in its own synapses only.
    ``time_limit``: wall seconds when ``budget`` is a wall-clock budget, else deterministic units.

    Returns (new core_of or None, CP-SAT status, objective, bound, deterministic time).
    Memory uses a linear upper bound of the nengo-loihi accounting (per axon with n
    synapses of b bits: n*b + ceil(n/G)*(header + word - 1)), so solutions are feasible.
    """
    cap, syn, sm = target.core, target.synapse, target.synapse_memory
    k = len(window)
    in_w = np.zeros(int(core_of.max()) + 1, bool)
    in_w[window] = True
    slot_of = np.full(len(in_w), -1, np.int64)
    slot_of[window] = np.arange(k)
    freed = np.flatnonzero(in_w[core_of])
    is_freed = np.zeros(graph.n_neurons, bool)
    is_freed[freed] = True
    m = cp_model.CpModel()
    x = {n: [m.NewBoolVar("") for _ in range(k)] for n in freed}
    for n in freed:
        m.AddExactlyOne(x[n])
    if graph.join_parent is not None:        # a join group shares one core (:mod:`.joins`)
        kids = freed[graph.join_parent[freed] >= 0]
        for d in kids:
            s = int(graph.join_parent[d])
            if not is_freed[s]:              # the group crosses the window: keep the current partition
                return None, cp_model.INFEASIBLE, None, None, 0.0
            for j in range(k):
                m.Add(x[d][j] == x[s][j])
    # synapses into freed neurons define a[p, j] = "p has a target on window core j"
    index = _Index.of(graph) if index is None else index
    s_in = _Index.gather(index.by_post, index.post_ptr, freed)
    pairs, cnt = np.unique(graph.pre[s_in].astype(np.int64) * graph.n_neurons + graph.post[s_in], return_counts=True)
    pp, pn = pairs // graph.n_neurons, pairs % graph.n_neurons
    srcs = np.unique(pp)
    a = {p: [m.NewBoolVar("") for _ in range(k)] for p in srcs}
    for p, n in zip(pp, pn):
        for j in range(k):
            m.AddImplication(x[n][j], a[p][j])
    # targets of each source outside the window (constant distinct cores)
    s_src = _Index.gather(index.by_pre, index.pre_ptr, srcs)
    s_src = s_src[~is_freed[graph.post[s_src]]]
    ext_keys = np.unique(graph.pre[s_src].astype(np.int64) * len(in_w) + core_of[graph.post[s_src]])
    ext = dict(zip(*np.unique(ext_keys // len(in_w), return_counts=True)))
    # capacities of window cores
    for j in range(k):
        m.Add(sum(x[n][j] for n in freed) <= cap.max_neurons)
    plastic_src = set(np.unique(graph.pre[s_in][graph.plastic[s_in]]).tolist())
    for j in range(k):
        m.Add(sum((cap.plastic_axon_slots if p in plastic_src else 1) * a[p][j] for p in srcs)
              <= cap.max_input_axons)
    if cap.memory_model == "nengo_loihi":
        g, hw = sm.synapses_per_group, sm.group_header_bits + sm.word_bits - 1
        sub = SimpleNamespace(weight_bits=graph.weight_bits[s_in], delay=graph.delay[s_in],
                              plastic=graph.plastic[s_in])
        wb, db, tb = synapse_field_bits(sub, target)
        per = np.zeros(graph.n_neurons, np.int64)
        np.maximum.at(per, graph.pre[s_in], wb + db + tb)
        per += index_bits_for(target, np.array([min(cap.max_neurons, len(freed))]))[0]
        for j in range(k):
            m.Add(sum(int(c) * (g * int(per[p]) + hw) * x[n][j] for p, n, c in zip(pp, pn, cnt))
                  + sum(g * hw * a[p][j] for p in srcs) <= g * cap.synapse_memory_bits)
    # output axons and fan-out
    big = k + max(ext.values(), default=0)
    if cap.max_output_axons or syn.max_fan_out_cores:
        o = {}
        for n in freed:
            e = int(ext.get(n, 0))
            o[n] = e + (sum(a[n]) if n in a else 0)
            if syn.max_fan_out_cores:
                m.Add(o[n] <= syn.max_fan_out_cores)
        for p in srcs:
            if not is_freed[p] and syn.max_fan_out_cores:
                m.Add(int(ext.get(p, 0)) + sum(a[p]) <= syn.max_fan_out_cores)
        if cap.max_output_axons:
            for j in range(k):
                terms = []
                for n in freed:
                    if n in a:
                        q = m.NewIntVar(0, big, "")
                        m.Add(q >= o[n]).OnlyEnforceIf(x[n][j])
                        terms.append(q)
                    elif o[n]:
                        terms.append(int(o[n]) * x[n][j])
                m.Add(sum(terms) <= cap.max_output_axons)
            usage = core_usage(graph, core_of, target) if usage is None else usage
            outside = [p for p in srcs if not is_freed[p]]
            by_core: dict[int, list[int]] = {}
            for p in outside:
                by_core.setdefault(int(core_of[p]), []).append(p)
            n_c = len(in_w)
            now_keys = np.unique(graph.pre[s_in].astype(np.int64) * n_c + core_of[graph.post[s_in]])
            now = dict(zip(*np.unique(now_keys // n_c, return_counts=True)))  # window cores p targets now
            for c, ps in by_core.items():
                now_w = sum(int(now.get(p, 0)) for p in ps)
                m.Add(sum(sum(a[p]) for p in ps) <= cap.max_output_axons - int(usage.output_axons[c]) + now_w)
    # objective: packets to window cores (minus a freed neuron's own core), then cores used
    traffic = [int(rates_int[p]) * a[p][j] for p in srcs for j in range(k)]
    for n in freed:
        if n in a and rates_int[n]:
            for j in range(k):
                wv = m.NewBoolVar("")
                m.AddImplication(wv, x[n][j])
                m.AddImplication(wv, a[n][j])
                traffic.append(-int(rates_int[n]) * wv)
    u = [m.NewBoolVar("") for _ in range(k)]
    for j in range(k):
        for n in freed:
            m.AddImplication(x[n][j], u[j])
        if j + 1 < k:
            m.Add(u[j] >= u[j + 1])
    m.Add(x[freed[0]][0] == 1)
    m.Minimize((k + 1) * sum(traffic) + sum(u))
    # hint: the current assignment, relabelled so the first freed neuron's core is slot 0
    cur = slot_of[core_of[freed]]
    relabel = np.arange(k)
    relabel[[0, cur[0]]] = relabel[[cur[0], 0]]
    cur = relabel[cur]
    for n, j in zip(freed, cur):
        for jj in range(k):
            m.AddHint(x[n][jj], int(jj == j))
    solver = make_solver(time_limit, seed, num_workers, budget=budget)
    status = solver.Solve(m)
    det = solver.response_proto.deterministic_time
    if budget is not None:
        budget.charge(det)
    if not solved(status):
        return None, status, None, None, det
    new = core_of.copy()
    for n in freed:
        j = next(jj for jj in range(k) if solver.BooleanValue(x[n][jj]))
        new[n] = window[j]
    return new, status, solver.ObjectiveValue(), solver.BestObjectiveBound(), det


def _exact(graph, target, rates, start, budget, seed, num_workers) -> CoreAssignment:
    """The whole instance in one CP-SAT model, at most as many cores as ``start`` uses, hinted with it."""
    rates_int, scale = _int_rates(rates)
    k = start.n_cores
    if budget.expired():
        return CoreAssignment(start.core_of, start.n_cores, "cpsat", start.objective, None,
                              {"status": "SKIPPED (budget spent)"})
    new, status, obj, bound, det = _solve_window(graph, target, rates_int, start.core_of.copy(),
                                                 np.arange(k), budget.left(), seed, num_workers, budget=budget)
    stats = {"status": status_name(status), "deterministic_time": det}
    # objective = (k+1) * traffic + cores, with 1 <= cores <= k
    t_bound = None if bound is None else float(max(0.0, np.ceil((bound - k) / (k + 1))) / scale)
    fallback = CoreAssignment(start.core_of, start.n_cores, "cpsat", start.objective, None, stats)
    if new is None or not core_usage_ok(graph, target, new) or first_split(graph.join_parent, new) >= 0:
        return fallback
    res = _result(graph, new, rates, "cpsat", bound=t_bound, stats=stats)
    if (res.objective, res.n_cores) > (start.objective, start.n_cores):
        return fallback  # the conservative memory model may rule out the start's packing
    return res


def _lns(graph, target, rates, start, budget, seed, num_workers, window_max_pairs) -> CoreAssignment:
    """Large-neighbourhood search from ``start``: re-solve pairs of cores exchanging the most traffic.

    Candidate pairs are taken in order of traffic between them; each window is solved with the rest
    fixed and kept if it lowers the inter-core packets and passes the full capacity check. The list is
    rebuilt once exhausted. Stops when ``budget`` is spent; a deterministic budget of ``U`` units
    also caps it at ``20 U + 10`` windows and ``2e7 U`` estimated synapse visits (so its wall time
    stays bounded on dense graphs). Each window costs time in its own synapses only (:class:`_Index`).
    """
    time_limit = budget.limit
    rates_int, _ = _int_rates(rates)
    index = _Index.of(graph)
    indeg = np.diff(index.post_ptr)
    core_of = start.core_of.copy()
    usage = core_usage(graph, core_of, target)
    best = start.objective
    max_windows = int(20 * time_limit) + 10 if budget.deterministic else np.inf
    # synapses a window touches (its sources' fan-out): a deterministic cap on wall time for dense graphs
    mean_fan_out = graph.n_synapses / max(graph.n_neurons, 1)
    work, max_work = 0.0, (2e7 * time_limit + 1e6) if budget.deterministic else np.inf
    tried = improved = skipped = 0
    per_pair_s = BUILD_S_PER_PAIR  # wall seconds of a window per synapse pair (measured as it runs)
    per_window = max(0.5, min(5.0, time_limit / 10))
    seen: set[tuple[int, int, int]] = set()
    while not budget.expired() and tried < max_windows and work <= max_work:
        t = core_traffic(graph, core_of, rates)
        t = (t + t.T).tocoo()
        off = t.row < t.col
        r_, c_, d_ = t.row[off], t.col[off], t.data[off]
        order = np.lexsort((c_, r_, -d_))
        cands = list(zip(r_[order].tolist(), c_[order].tolist()))
        progress = False
        for c1, c2 in cands:
            if budget.expired() or tried >= max_windows:
                break
            members = np.flatnonzero((core_of == c1) | (core_of == c2))
            key = (c1, c2, hash(members.tobytes()))
            if key in seen:
                continue
            seen.add(key)
            pairs = int(indeg[members].sum())
            if pairs > window_max_pairs:
                skipped += 1
                continue
            if not budget.deterministic and per_pair_s * pairs > budget.left():
                skipped += 1  # its model alone would take longer than the time left
                continue
            work += pairs * mean_fan_out
            if work > max_work:
                break
            t_win = time.perf_counter()
            new, status, obj, bound, det = _solve_window(
                graph, target, rates_int, core_of, np.array([c1, c2]), min(per_window, budget.left()),
                seed + tried, num_workers, index, usage, budget)
            per_pair_s = (time.perf_counter() - t_win) / max(pairs, 1)  # build + solve: conservative
            tried += 1
            budget.report("partition.lns", int(1000 * (1 - budget.left() / max(time_limit, 1e-9))), 1000)
            if new is None or first_split(graph.join_parent, new) >= 0:
                continue
            delta = _packets_delta(graph, index, core_of, new, members, rates)
            if delta < -1e-9:
                new_usage = core_usage(graph, new, target)
                if not (violations(new_usage, target).any() or output_violations(new_usage, target).any()):
                    core_of, usage, best = new, new_usage, best + delta
                    improved += 1
                    progress = True
        if not progress:
            break
    stats = {"windows_tried": tried, "windows_improved": improved, "windows_skipped": skipped,
             "synapse_visits": work,
             "budget_used": float(time_limit) - budget.left()}
    return _result(graph, core_of, rates, "cpsat", None, stats)


def _packets_delta(graph, index, old, new, moved, rates) -> float:
    """Change of inter-core packets per step when neurons ``moved`` go from ``old`` to ``new`` cores.

    Only sources with a synapse onto a moved neuron, and the moved neurons themselves, change."""
    s_in = _Index.gather(index.by_post, index.post_ptr, moved)
    srcs = np.union1d(graph.pre[s_in], moved)
    syn = _Index.gather(index.by_pre, index.pre_ptr, srcs)
    pre = graph.pre[syn].astype(np.int64)

    def packets(core_of):
        n_c = int(core_of.max()) + 1
        key = np.unique(pre * n_c + core_of[graph.post[syn]])
        p, c = key // n_c, key % n_c
        off = core_of[p] != c
        return float(rates[p[off]].sum())
    return packets(new) - packets(old)
