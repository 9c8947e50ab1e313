"""Crossbar legalization: target weights -> binary crossbar, 4 axon types, per-neuron 9-bit weights.

On a TrueNorth core the weight from axon ``p`` to neuron ``j`` is
``c[p, j] * s[j, G_p]``: a crossbar bit, times the neuron's signed 9-bit weight
(-255..255) for the axon's type ``G_p`` in 0..3 (Cassidy et al. 2013 eq. 1).
Given target weights ``W`` (inputs x neurons, hardware units, float allowed),
:func:`legalize_crossbar` chooses the types, the weights and the bits to
minimize the L1 weight error ::

    E = sum_{p, j} | W[p, j] - c[p, j] s[j, G_p] |

For fixed types and weights the best bit is ``c = 1`` iff ``|W - s| < |W|``,
so the error of a pair is ``min(|W|, |W - s|)`` and ``E`` is a function of
``G`` and ``s`` only. For fixed types, ``s[j, k]`` minimizes a convex
piecewise-linear function whose breakpoints are the targets of the type-k
axons, so an optimal integer ``s`` lies in ``floor``/``ceil`` of a target of
column ``j`` (clipped to +-255): these *candidate levels* make the search finite.

CP-SAT model (OR-Tools): ``x[p, k]`` (axon p has type k, one per axon),
``y[j, k, l]`` (neuron j's type-k weight is candidate level l, one per (j, k)),
``e[p, j] >= sum_l cost(p, j, l) y[j, k, l]`` enforced by ``x[p, k]``, where
``cost(p, j, l) = min(|W[p, j]|, |W[p, j] - L_l|)`` (scaled to integers);
minimize ``sum e``. Type permutations are broken by
``G_p <= max(G_0..G_{p-1}) + 1``. With every candidate level the model is
exact (status OPTIMAL = proven optimum of E). Larger cores are warm-started
from a clustering (alternating minimization from k-means++-seeded types: best
``s`` per (neuron, type) by exhaustive 1-D search, then best type per axon)
and, if small enough, refined by CP-SAT restricted to the levels nearest the
warm start; otherwise the clustering result is returned.

Signed inputs may use two axons (Eedn-style input copies: the presynaptic
neuron is copied so that it drives a "positive" and a "negative" axon): rows
with ``split[i]`` are replaced by their positive and negative parts, which sum
to the row exactly. :func:`auto_split` picks the rows to split greedily.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from neuromap.errors import TargetError

N_TYPES = 4
S_MAX = 255
MAX_AXONS = 256
MAX_NEURONS = 256


@dataclass
class CrossbarSolution:
    """A legal core configuration and how it was found.

    axon_type (P,) uint8 and crossbar (P, N) bool over the P physical axons;
    axon_input (P,) int: the input row each physical axon carries (two axons
    for a split input); s (N, 4) int16 weights. ``realized`` (n_in, N) int64:
    the weight each input finally has on each neuron (sum over its axons).
    ``error_l1`` = sum |W - realized| (hw units). ``method``: ``cpsat-exact``,
    ``cpsat-restricted`` or ``clustering``; ``optimal``: CP-SAT proved the optimum
    of the model it solved (for ``cpsat-exact``: of E itself).
    """

    axon_type: np.ndarray
    crossbar: np.ndarray
    axon_input: np.ndarray
    s: np.ndarray
    realized: np.ndarray
    error_l1: float
    method: str
    optimal: bool
    lower_bound: float
    wall_time: float


# ----------------------------------------------------------------- helpers
def _pair_cost(W: np.ndarray, level: np.ndarray) -> np.ndarray:
    """min(|W|, |W - level|) elementwise (the error of one axon-neuron pair given the weight)."""
    return np.minimum(np.abs(W), np.abs(W - level))


def candidate_levels(col: np.ndarray) -> np.ndarray:
    """Integer levels an optimal weight of a neuron can take: 0 and floor/ceil of its nonzero targets, clipped."""
    v = col[col != 0]
    lv = np.concatenate([[0.0], np.floor(v), np.ceil(v)])
    return np.unique(np.clip(lv, -S_MAX, S_MAX)).astype(np.int64)


def _best_levels(W: np.ndarray, types: np.ndarray, cands: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """For fixed types: the optimal s[j, k] over candidate levels (exhaustive) and the cost per (j, k)."""
    N = W.shape[1]
    s = np.zeros((N, N_TYPES), dtype=np.int64)
    cost = np.zeros((N, N_TYPES))
    for k in range(N_TYPES):
        rows = W[types == k]
        if rows.shape[0] == 0:
            continue
        for j in range(N):
            c = _pair_cost(rows[:, j][:, None], cands[j][None, :]).sum(axis=0)
            best = int(np.argmin(c))
            s[j, k], cost[j, k] = cands[j][best], c[best]
    return s, cost


def _type_costs(W: np.ndarray, s: np.ndarray) -> np.ndarray:
    """C[p, k] = sum_j min(|W[p, j]|, |W[p, j] - s[j, k]|)."""
    return np.stack([_pair_cost(W, s[:, k][None, :]).sum(axis=1) for k in range(N_TYPES)], axis=1)


def _kmeanspp_types(W: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Initial types: k-means++ seeding on the rows (L1 distance), then nearest seed."""
    P = W.shape[0]
    centers = [W[rng.integers(P)]]
    for _ in range(1, N_TYPES):
        d = np.min([np.abs(W - c).sum(axis=1) for c in centers], axis=0)
        if d.sum() == 0:
            break
        centers.append(W[rng.choice(P, p=d / d.sum())])
    d = np.stack([np.abs(W - c).sum(axis=1) for c in centers], axis=1)
    return np.argmin(d, axis=1)


def cluster_solution(W: np.ndarray, restarts: int = 4, seed: int = 0, max_iter: int = 50,
                     cands: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Alternating minimization of E from ``restarts`` k-means++ seeds; returns (types, s, E) of the best."""
    W = np.asarray(W, dtype=np.float64)
    cands = cands or [candidate_levels(W[:, j]) for j in range(W.shape[1])]
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(max(1, restarts)):
        types = _kmeanspp_types(W, rng) if W.shape[0] else np.zeros(0, int)
        for _ in range(max_iter):
            s, _ = _best_levels(W, types, cands)
            new = np.argmin(_type_costs(W, s), axis=1) if W.shape[0] else types
            if np.array_equal(new, types):
                break
            types = new
        s, cost = _best_levels(W, types, cands)
        err = float(cost.sum())
        if best is None or err < best[2] - 1e-9:
            best = (types.astype(np.uint8), s, err)
    return best


def _objective_scale(W: np.ndarray) -> int:
    """Integer scale of the CP-SAT costs: 1 for integer targets, else 1000 (milli-units)."""
    return 1 if np.all(W == np.round(W)) else 1000


def _solve_cpsat(W, cands_jk, hint_types, hint_s, symmetry, time_limit, workers, seed, budget=None):
    """CP-SAT over types and per-(j, k) levels; returns (types, s, optimal, lower_bound_in_units)."""
    P, N = W.shape
    scale = _objective_scale(W)
    m = cp_model.CpModel()
    x = [[m.NewBoolVar(f"x{p}_{k}") for k in range(N_TYPES)] for p in range(P)]
    for p in range(P):
        m.AddExactlyOne(x[p])
    y = {}
    for j in range(N):
        for k in range(N_TYPES):
            lv = cands_jk[j][k]
            y[j, k] = [m.NewBoolVar(f"y{j}_{k}_{l}") for l in range(len(lv))]
            m.AddExactlyOne(y[j, k])
    if symmetry and hint_types is not None:
        hint_types, hint_s = _canonical(hint_types, hint_s)
    obj, ehint = [], []
    for p in range(P):
        for j in range(N):
            if W[p, j] == 0:
                continue  # cost 0 whatever the type and level
            ub = int(math.ceil(abs(W[p, j]) * scale))
            e = m.NewIntVar(0, ub, f"e{p}_{j}")
            obj.append(e)
            if hint_types is not None:
                g = hint_types[p]
                ehint.append((e, int(np.rint(_pair_cost(W[p, j], hint_s[j, g]) * scale))))
            for k in range(N_TYPES):
                c = np.rint(_pair_cost(W[p, j], cands_jk[j][k]) * scale).astype(np.int64)
                terms = [int(ci) * v for ci, v in zip(c, y[j, k]) if ci]
                if terms:
                    m.Add(e >= sum(terms)).OnlyEnforceIf(x[p][k])
    if symmetry and P:
        t = [m.NewIntVar(0, N_TYPES - 1, f"t{p}") for p in range(P)]
        mx = [m.NewIntVar(0, N_TYPES - 1, f"m{p}") for p in range(P)]
        if hint_types is not None:
            for p in range(P):
                m.AddHint(t[p], int(hint_types[p]))
                m.AddHint(mx[p], int(hint_types[:p + 1].max()))
        for p in range(P):
            m.Add(t[p] == sum(k * x[p][k] for k in range(N_TYPES)))
        m.Add(t[0] == 0)
        m.Add(mx[0] == 0)
        for p in range(1, P):
            m.Add(t[p] <= mx[p - 1] + 1)
            m.AddMaxEquality(mx[p], [mx[p - 1], t[p]])
    m.Minimize(sum(obj))
    if hint_types is not None:
        for e, v in ehint:
            m.AddHint(e, v)
        for p in range(P):
            for k in range(N_TYPES):
                m.AddHint(x[p][k], int(hint_types[p] == k))
        for (j, k), ys in y.items():
            lv = cands_jk[j][k]
            pos = np.flatnonzero(lv == hint_s[j, k])
            for l, v in enumerate(ys):
                m.AddHint(v, int(pos.size > 0 and l == pos[0]))
    solver = cp_model.CpSolver()
    if budget is None:
        # deterministic time (reproducible with workers=1); wall clock only as a safety net under load
        solver.parameters.max_deterministic_time = float(time_limit)
        solver.parameters.max_time_in_seconds = 10.0 * float(time_limit)
    elif budget.deterministic:  # deterministic units only: the same result on every run
        solver.parameters.max_deterministic_time = max(0.01, min(float(time_limit), budget.left()))
    else:
        solver.parameters.max_time_in_seconds = max(0.01, min(float(time_limit), budget.left()))
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    status = solver.Solve(m)
    if budget is not None:
        budget.after_cpsat(solver)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    types = np.array([next(k for k in range(N_TYPES) if solver.Value(x[p][k])) for p in range(P)], dtype=np.uint8)
    s = np.zeros((N, N_TYPES), dtype=np.int64)
    for (j, k), ys in y.items():
        s[j, k] = cands_jk[j][k][next(l for l, v in enumerate(ys) if solver.Value(v))]
    return types, s, status == cp_model.OPTIMAL, solver.BestObjectiveBound() / scale


def _canonical(types: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relabel types in order of first use (the symmetry-broken form) and permute the weight columns alike."""
    order = list(dict.fromkeys(int(t) for t in types)) + [k for k in range(N_TYPES) if k not in types]
    relabel = np.empty(N_TYPES, dtype=np.int64)
    relabel[order] = np.arange(N_TYPES)
    return relabel[types].astype(np.uint8), s[:, order]


def _restricted_levels(cands: list[np.ndarray], s: np.ndarray, k_near: int) -> list[list[np.ndarray]]:
    out = []
    for j, lv in enumerate(cands):
        row = []
        for k in range(N_TYPES):
            order = np.argsort(np.abs(lv - s[j, k]), kind="stable")[:k_near]
            row.append(np.unique(np.concatenate([lv[order], [0]])))
        out.append(row)
    return out


def split_rows(W: np.ndarray, split: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Physical rows: each input once, or (split) its positive part then its negative part; returns (rows, input)."""
    n_in = W.shape[0]
    split = np.zeros(n_in, bool) if split is None else np.asarray(split, bool)
    rows, owner = [], []
    for i in range(n_in):
        if split[i]:
            rows += [np.maximum(W[i], 0), np.minimum(W[i], 0)]
            owner += [i, i]
        else:
            rows.append(W[i])
            owner.append(i)
    return np.array(rows, dtype=np.float64).reshape(-1, W.shape[1]), np.array(owner, dtype=np.int64)


def legalize_crossbar(W, split=None, exact_max_terms: int = 40_000, restricted_max_terms: int = 400_000,
                      near_levels: int = 3, time_limit: float = 10.0, restarts: int = 4, seed: int = 0,
                      workers: int = 1, budget=None) -> CrossbarSolution:
    """Legal crossbar, axon types and weights for target weights ``W`` (n_in, N) in hardware units.

    ``split``: bool per input, or None (no copies). The CP-SAT model is solved
    exactly when it has at most ``exact_max_terms`` cost terms, restricted to the
    ``near_levels`` levels nearest the clustering otherwise (up to
    ``restricted_max_terms``), and skipped beyond. ``time_limit`` CP-SAT deterministic time units
    (about seconds) per solve; ``seed`` drives the clustering and CP-SAT (deterministic with
    ``workers=1``). ``budget`` (:class:`~neuromap.placement.budget.Budget`): each solve stops at
    ``time_limit`` or what is left of it (wall seconds or deterministic units), none starts once it
    is spent (the clustering result is kept). Raises :class:`TargetError` if the core would exceed
    256 axons or 256 neurons.
    """
    import time
    t0 = time.perf_counter()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or not np.all(np.isfinite(W)):
        raise TargetError(f"crossbar legalization: weights must be a finite 2-d array, got shape {W.shape}")
    rows, owner = split_rows(W, split)
    P, N = rows.shape
    if P > MAX_AXONS or N > MAX_NEURONS:
        raise TargetError(f"crossbar legalization: {P} axons x {N} neurons exceeds one core "
                          f"({MAX_AXONS} x {MAX_NEURONS}; place fewer neurons or inputs on the core)")
    cands = [candidate_levels(rows[:, j]) for j in range(N)]
    types, s, err = cluster_solution(rows, restarts=restarts, seed=seed, cands=cands)
    nz = rows != 0
    exact_terms = int(sum(nz[:, j].sum() * len(cands[j]) for j in range(N))) * N_TYPES
    method, optimal, bound = "clustering", False, 0.0
    sol = None
    spent = budget is not None and budget.expired()
    if P and not spent and exact_terms <= exact_max_terms:
        sol = _solve_cpsat(rows, [[c] * N_TYPES for c in cands], types, s, True, time_limit, workers, seed, budget)
        method = "cpsat-exact"
    elif P and not spent and int(nz.sum()) * N_TYPES * (near_levels + 1) <= restricted_max_terms:
        sol = _solve_cpsat(rows, _restricted_levels(cands, s, near_levels), types, s, False, time_limit,
                           workers, seed, budget)
        method = "cpsat-restricted"
    if sol is not None:
        t2, s2, optimal, bound = sol
        s2b, cost2 = _best_levels(rows, t2, cands)  # exact per-(j, k) polish for the chosen types
        if cost2.sum() <= err + 1e-9:
            types, s, err = t2, s2b, float(cost2.sum())
        else:
            method, optimal = "clustering", False
    xb = np.abs(rows - s[:, types].T) < np.abs(rows)
    phys = np.where(xb, s[:, types].T, 0)
    realized = np.zeros(W.shape, dtype=np.int64)
    np.add.at(realized, owner, phys.astype(np.int64))
    return CrossbarSolution(axon_type=types.astype(np.uint8), crossbar=xb, axon_input=owner,
                            s=s.astype(np.int16), realized=realized, error_l1=float(np.abs(W - realized).sum()),
                            method=method, optimal=bool(optimal and method == "cpsat-exact"),
                            lower_bound=float(bound if method == "cpsat-exact" else 0.0),
                            wall_time=time.perf_counter() - t0)


def auto_split(W, max_axons: int = MAX_AXONS, rounds: int = 3, **kw) -> CrossbarSolution:
    """Greedy input copies (Eedn-style +/- axons for mixed-sign inputs), while axons remain.

    Each round tries two candidates: split the mixed-sign inputs that carry error
    (largest first, up to half of them), and split every mixed-sign input (this
    frees types even when the error sits on other inputs); the better one is kept
    if it lowers the error. Returns the best solution found. ``budget`` (in ``kw``): the first
    legalization gets half of it, each later one half of what is left.
    """
    W = np.asarray(W, dtype=np.float64)
    split = np.zeros(W.shape[0], bool)
    budget = kw.pop("budget", None)

    def solve(split):  # legalize_crossbar with a share of the budget
        return legalize_crossbar(W, split, budget=None if budget is None else budget.sub(0.5), **kw)

    best = solve(split)
    mixed = (W > 0).any(axis=1) & (W < 0).any(axis=1)
    for _ in range(rounds):
        free = max_axons - (W.shape[0] + int(split.sum()))
        per_in = np.abs(W - best.realized).sum(axis=1)
        todo = np.flatnonzero(mixed & ~split)
        if free <= 0 or todo.size == 0 or best.error_l1 == 0:
            break
        hot = todo[per_in[todo] > 0]
        hot = hot[np.argsort(-per_in[hot], kind="stable")][:max(1, hot.size // 2)]
        options = [o for o in (hot, todo) if 0 < o.size]
        trials = []
        for pick in options:
            pick = pick[:free]
            sp = split.copy()
            sp[pick] = True
            trials.append((solve(sp), sp))
        sol, sp = min(trials, key=lambda t: t[0].error_l1)
        if sol.error_l1 >= best.error_l1 - 1e-9:
            break
        split, best = sp, sol
    return best


# ------------------------------------------------------------ placer cost
@dataclass
class CoreCost:
    """Cost of putting a set of neurons on one core: the legalization error (L1, hw units) of the
    clustering heuristic, the axons (distinct inputs) it needs, and whether it fits 256 x 256."""

    error_l1: float
    n_axons: int
    n_neurons: int
    fits: bool


def core_cost(W, restarts: int = 2, seed: int = 0) -> CoreCost:
    """Cost of a candidate core whose neurons are the columns of ``W`` (all presynaptic inputs as rows;
    rows that are all zero need no axon). Fast (no CP-SAT), deterministic."""
    W = np.asarray(W, dtype=np.float64)
    used = W[np.any(W != 0, axis=1)]
    fits = used.shape[0] <= MAX_AXONS and W.shape[1] <= MAX_NEURONS
    if used.shape[0] == 0:
        return CoreCost(0.0, 0, W.shape[1], fits)
    _, _, err = cluster_solution(used, restarts=restarts, seed=seed)
    return CoreCost(err, int(used.shape[0]), int(W.shape[1]), fits)


def pair_cost(w_a, w_b, restarts: int = 2, seed: int = 0) -> float:
    """Extra legalization error (hw units) of putting neurons a and b on one core (they must share the
    4 axon types): ``E(a, b together) - E(a alone) - E(b alone)``, >= 0 up to heuristic noise.
    ``w_a``/``w_b``: the neurons' target weights over the same input index space."""
    W = np.stack([np.asarray(w_a, float), np.asarray(w_b, float)], axis=1)
    both = core_cost(W, restarts, seed).error_l1
    return both - core_cost(W[:, :1], restarts, seed).error_l1 - core_cost(W[:, 1:], restarts, seed).error_l1
