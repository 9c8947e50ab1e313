"""Fan-out legalization: splitter neurons for sources with several target axons, and delay compensation.

A TrueNorth neuron drives exactly one axon (Cassidy et al. 2013; Merolla et al.
2014). A source whose spikes must reach ``f > 1`` axons drives one axon of a
*splitter core* instead; that axon is connected to ``f <= 256`` splitter
neurons (type-0 weight 1, ``alpha = 1``, reset to 0: each fires in the tick its
axon is active), and splitter ``k`` drives target ``k``. Splitter groups (one
axon + f neurons) are packed first-fit into splitter cores. Host inputs are
driven by the host and need no splitter.

Delays: a route with desired delay ``D`` (ticks) is realized as
``r = d_src + d_k`` with ``d_src`` the source's
own axonal delay (shared by all its targets) and ``d_k`` the last splitter's
delay, each in 1..15 (4 bit); a direct route (``f = 1``) is ``r = d_src``.
A splitter hop costs at least one tick, so ``D = 1`` cannot be met through a
splitter. Such paths are compensated by *retiming*: every timing group ``g``
(neurons that share an input axon must share it; union-find over the axons'
post neurons) gets a shift ``phi_g >= 0`` (its spikes come ``phi_g`` ticks later
than in the source network; host inputs have ``phi = 0``), and a route must
satisfy ``r = D + phi(dst) - phi(src)``. Host inputs are injected by the host
straight into their axons, so their routes take any delay >= 1 and any fan-out. CP-SAT chooses ``phi``, ``d_src`` and
``r`` minimizing first the total ``|r - (D + phi(dst) - phi(src))|`` (the
uncompensated timing error, reported per route) and then the total shift.
When every fanned-out route has ``2 <= D <= 16`` and every direct route
``1 <= D <= 15`` the solution is ``phi = 0``, ``d_src = 1``, ``d_k = D - 1``
and no solver is run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from neuromap.core_kinds.truenorth import CORE_AXONS, CORE_NEURONS, MAX_DELAY, MIN_DELAY, TNCore, make_core
from neuromap.errors import TargetError

#: TrueNorth parameters of a splitter neuron (relay): type-0 weight 1, fires on any input, reset to 0
SPLITTER_PARAMS = {"alpha": 1, "beta": 0, "gamma": 0, "R": 0, "lam": 0, "kappa": True}


@dataclass
class Splitter:
    """One splitter neuron: fed by source ``parent``, placed on
    splitter core ``core`` (0-based among splitter cores) at neuron ``slot``, input axon ``axon``; drives
    (``dst_core``, ``dst_axon``) (``dst_core = -1 - c``: splitter core ``c``) with ``delay``."""

    parent: int
    core: int
    slot: int
    axon: int
    dst_core: int
    dst_axon: int
    delay: int


@dataclass
class FanoutPlan:
    """Result of :func:`legalize_fanout`.

    * ``src_target`` (S, 3) int: per source the one (core, axon, delay) it drives (core -1: none;
      core ``-1 - c``: splitter core ``c``).
    * ``splitters``: list of :class:`Splitter`; ``n_splitter_cores``.
    * ``realized`` (R,) int: realized total delay of each route; ``error`` (R,) int: realized minus
      the retimed ideal ``D + phi(dst) - phi(src)`` (0 = timing preserved).
    * ``phi`` (S,) int: per source, how many ticks later it spikes than in the source network.
    * ``solver``: ``trivial`` or the CP-SAT status name.
    """

    src_target: np.ndarray
    splitters: list[Splitter]
    n_splitter_cores: int
    realized: np.ndarray
    error: np.ndarray
    phi: np.ndarray
    solver: str

    def uncompensated(self) -> np.ndarray:
        """Indices of routes whose timing could not be preserved."""
        return np.flatnonzero(self.error != 0)

    def describe(self, src, dst_core, dst_axon, delay) -> list[str]:
        """One line per uncompensated route: where, the desired, retimed and realized delay."""
        return [f"source {src[k]} -> core {dst_core[k]} axon {dst_axon[k]}: desired delay {delay[k]}, "
                f"needed {self.realized[k] - self.error[k]} after retiming, realized {self.realized[k]} "
                f"({self.error[k]:+d} tick)" for k in self.uncompensated()]


def _timing_groups(n_sources: int, axon_posts: dict, is_input: np.ndarray) -> np.ndarray:
    parent = np.arange(n_sources)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for posts in axon_posts.values():
        posts = np.asarray(posts, dtype=np.int64)
        for p in posts[1:]:
            ra, rb = find(int(posts[0])), find(int(p))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(a) for a in range(n_sources)], dtype=np.int64)


def legalize_fanout(n_sources: int, src, dst_core, dst_axon, delay, axon_posts: dict | None = None,
                    is_input=None, time_limit: float = 10.0, max_shift: int = 64, budget=None) -> FanoutPlan:
    """Plan splitters and delays for routes ``src[k] -> (dst_core[k], dst_axon[k])`` with desired ``delay[k]``.

    ``axon_posts``: (core, axon) -> source ids of the neurons that axon feeds (for the retiming
    groups; missing = each destination axon's posts are unknown and its route needs ``phi = 0``
    at the destination). ``is_input`` (S,) bool: host-driven sources (shift fixed at 0).
    ``time_limit``: seconds for the delay-planning solve (deterministic units with a deterministic
    ``budget``); with a ``budget`` (:class:`~neuromap.placement.budget.Budget`) at most what is left
    of it, but at least :data:`MIN_RETIME_LIMIT` (the plan needs a feasible solution).
    """
    src, dst_core, dst_axon, delay = (np.asarray(a, dtype=np.int64) for a in (src, dst_core, dst_axon, delay))
    R = src.shape[0]
    if R and (src.min() < 0 or src.max() >= n_sources):
        raise TargetError("fan-out: a route names a source that does not exist")
    if R and delay.min() < 1:
        raise TargetError(f"fan-out: delay {delay.min()} < 1 tick (use delays >= 1)")
    key = dst_core * CORE_AXONS + dst_axon
    if np.unique(np.stack([src, key]), axis=1).shape[1] != R:
        raise TargetError("fan-out: a source has two routes to the same axon (merge them before fan-out)")
    is_input = np.zeros(n_sources, bool) if is_input is None else np.asarray(is_input, bool)
    fan = np.bincount(src, minlength=n_sources)
    too_many = np.flatnonzero((fan > CORE_NEURONS) & ~is_input)
    if too_many.size:
        raise TargetError(f"fan-out: source {too_many[0]} has {fan[too_many[0]]} target axons, more than one "
                          f"splitter core serves ({CORE_NEURONS}; spread its targets over fewer cores)")
    L = (fan > 1).astype(np.int64)  # splitter levels: one splitter core serves up to 256 targets
    lo = np.where(L[src] > 0, L[src] + 1, MIN_DELAY)        # realized delay bounds per route
    hi = np.where(L[src] > 0, L[src] - 1 + 2 * MAX_DELAY, MAX_DELAY)
    # host inputs are injected by the host straight into their axons: any fan-out, any delay >= 1
    inp = is_input[src]
    lo = np.where(inp, MIN_DELAY, lo)
    hi = np.where(inp, MAX_DELAY + max_shift + int(delay.max(initial=1)), hi)
    # trivial plan: d_src = 1 for fanned-out sources, so their routes need D - 1 <= 15
    trivial_hi = np.where(inp, hi, np.where(L[src] > 0, 1 + MAX_DELAY, MAX_DELAY))
    if np.all((delay >= lo) & (delay <= trivial_hi)):
        realized, phi, d_src, status = delay.copy(), np.zeros(n_sources, np.int64), np.ones(n_sources, np.int64), \
            "trivial"
        for u in np.unique(src[(fan[src] == 1) & ~inp]):
            d_src[u] = delay[src == u][0]
    else:
        realized, phi, d_src, status = _retime(n_sources, src, dst_core, dst_axon, delay, lo, hi, fan,
                                               axon_posts or {}, is_input, time_limit, max_shift, budget)
    ideal = delay + _dst_phi(dst_core, dst_axon, axon_posts or {}, phi) - phi[src]
    error = realized - ideal
    return _build(n_sources, src, dst_core, dst_axon, realized, d_src, fan, is_input, error, phi, status)


def _dst_phi(dst_core, dst_axon, axon_posts, phi):
    out = np.zeros(dst_core.shape[0], dtype=np.int64)
    for k, (c, a) in enumerate(zip(dst_core, dst_axon)):
        posts = axon_posts.get((int(c), int(a)))
        if posts is not None and len(posts):
            out[k] = phi[int(posts[0])]
    return out


#: least time (s or units) the delay-planning solve gets, whatever is left of the budget
MIN_RETIME_LIMIT = 1.0


def _retime(S, src, dst_core, dst_axon, delay, lo, hi, fan, axon_posts, is_input, time_limit, max_shift,
            budget=None):
    groups = _timing_groups(S, axon_posts, is_input)
    m = cp_model.CpModel()
    gphi = {}
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        fixed = is_input[members].any()
        gphi[int(g)] = m.NewConstant(0) if fixed else m.NewIntVar(0, max_shift, f"phi{g}")
    dsrc = {int(u): m.NewIntVar(MIN_DELAY, MAX_DELAY, f"d{u}") for u in np.flatnonzero((fan > 1) & ~is_input)}
    r_vars, errs = [], []
    for k in range(src.shape[0]):
        u = int(src[k])
        r = m.NewIntVar(int(lo[k]), int(hi[k]), f"r{k}")
        r_vars.append(r)
        if u in dsrc:  # r = d_src + d_k with d_k in 1..15
            m.Add(r - dsrc[u] >= MIN_DELAY)
            m.Add(r - dsrc[u] <= MAX_DELAY)
        posts = axon_posts.get((int(dst_core[k]), int(dst_axon[k])))
        pd = gphi[int(groups[int(posts[0])])] if posts is not None and len(posts) else 0
        e = m.NewIntVar(-4 * MAX_DELAY - max_shift, 4 * MAX_DELAY + max_shift, f"e{k}")
        m.Add(e == r - int(delay[k]) - pd + gphi[int(groups[u])])
        a = m.NewIntVar(0, 4 * MAX_DELAY + max_shift, f"a{k}")
        m.AddAbsEquality(a, e)
        errs.append(a)
    big = 1 + max_shift * len(gphi)
    m.Minimize(big * sum(errs) + sum(v for v in gphi.values() if not isinstance(v, int)))
    solver = cp_model.CpSolver()
    limit = float(time_limit) if budget is None else max(MIN_RETIME_LIMIT, min(float(time_limit), budget.left()))
    if budget is not None and budget.deterministic:
        solver.parameters.max_deterministic_time = limit
    else:
        solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 1
    st = solver.Solve(m)
    if budget is not None:
        budget.after_cpsat(solver)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise TargetError(f"fan-out: delay planning found no solution ({solver.StatusName(st)}; "
                          f"raise the time limit)")
    realized = np.array([solver.Value(r) for r in r_vars], dtype=np.int64)
    phi = np.array([solver.Value(gphi[int(groups[u])]) for u in range(S)], dtype=np.int64)
    d_src = np.ones(S, dtype=np.int64)
    for u, v in dsrc.items():
        d_src[u] = solver.Value(v)
    for u in np.unique(src[(fan[src] == 1) & ~is_input[src]]):
        d_src[u] = realized[src == u][0]
    return realized, phi, d_src, solver.StatusName(st)


def _build(S, src, dst_core, dst_axon, realized, d_src, fan, is_input, error, phi, status) -> FanoutPlan:
    src_target = np.full((S, 3), -1, dtype=np.int64)
    src_target[:, 2] = 0
    splitters: list[Splitter] = []
    cores = []  # per splitter core: [axons used, neurons used]

    def place(n_neurons):
        """First-fit a group of one axon and n_neurons neurons; returns (core, axon, first slot)."""
        for c, (na, nn) in enumerate(cores):
            if na < CORE_AXONS and nn + n_neurons <= CORE_NEURONS:
                cores[c] = [na + 1, nn + n_neurons]
                return c, na, nn
        cores.append([1, n_neurons])
        return len(cores) - 1, 0, 0

    for u in range(S):
        ks = np.flatnonzero(src == u)
        if ks.size == 0:
            continue
        if is_input[u] or fan[u] == 1:
            k = ks[0]
            src_target[u] = (dst_core[k], dst_axon[k], realized[k])
            continue
        c, ax, slot = place(ks.size)
        for n, k in enumerate(ks):
            splitters.append(Splitter(parent=u, core=c, slot=slot + n, axon=ax, dst_core=int(dst_core[k]),
                                      dst_axon=int(dst_axon[k]), delay=int(realized[k] - d_src[u])))
        src_target[u] = (-1 - c, ax, d_src[u])
    return FanoutPlan(src_target=src_target, splitters=splitters, n_splitter_cores=len(cores),
                      realized=realized, error=error, phi=phi, solver=status)


def splitter_cores(plan: FanoutPlan, first_core: int) -> list[TNCore]:
    """Emulator cores of the splitters, numbered from ``first_core`` (splitter core ``c`` is
    ``first_core + c``; targets ``-1 - c`` are renumbered the same way)."""
    out = []
    for c in range(plan.n_splitter_cores):
        sps = [sp for sp in plan.splitters if sp.core == c]
        n_ax = max(sp.axon for sp in sps) + 1
        n_nr = max(sp.slot for sp in sps) + 1
        xb = np.zeros((n_ax, n_nr), bool)
        dest_core = np.full(n_nr, -1)
        dest_axon = np.zeros(n_nr, int)
        dly = np.ones(n_nr, int)
        for sp in sps:
            xb[sp.axon, sp.slot] = True
            dest_core[sp.slot] = sp.dst_core if sp.dst_core >= 0 else first_core + (-1 - sp.dst_core)
            dest_axon[sp.slot], dly[sp.slot] = sp.dst_axon, sp.delay
        s = np.zeros((n_nr, 4), int)
        s[:, 0] = 1
        out.append(make_core(xb, 0, s=s, dest_core=dest_core, dest_axon=dest_axon, delay=dly, **SPLITTER_PARAMS))
    return out
