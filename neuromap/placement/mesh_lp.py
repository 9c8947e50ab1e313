"""LP lower bound for mesh placement over pairwise hop distances, with dispersion cuts.

Objective (as in :mod:`~.mesh_bounds`): sum over core pairs of traffic x Manhattan hops between
their tiles, ``cpt`` cores per tile. Every placement's hop distances d_ij (0 for cores on one
tile) satisfy, and so does the LP relaxation over real d_ij:

- triangle inequalities d_ik <= d_ij + d_jk (all triples);
- *star* cuts: for a core i and any set S of other cores, sum_{j in S} d_ij >= the sum of the
  |S| smallest hop distances from one slot to others on an unbounded mesh
  (:func:`star_minimum`: cpt - 1 at 0 hops, 4 d cpt at d hops);
- *dispersion* cuts: for any set S of cores, sum_{i<j in S} d_ij >= the least sum of pairwise
  hop distances of |S| distinct slots (:func:`dispersion_minimum`, a proven lower bound on it);
- 0 <= d_ij <= the largest distance of a compacted placement (``mesh_bounds`` module doc: some
  optimal placement occupies every tile column and row of its bounding box).

So the LP optimum is at most the optimal placement's traffic x hops. All three families are
separated from each LP solution (triangles by shortest two-step paths, stars exactly,
dispersion sets grown greedily from pairs of cores) for a bounded number of rounds; keeping
only some pairs' variables and the cuts over them (``pairs="traffic"``) is still a relaxation.
The returned bound is
not the solver's floating-point optimum but the Lagrangian value of its duals, which is a lower
bound for any non-negative multipliers, so solver tolerances cannot make it invalid.
"""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from neuromap.placement.mesh_bounds import slot_distances

#: up to this many cores every pair gets a distance variable and dispersion sets grow from every pair
ALL_PAIRS_MAX_CORES = 64
#: largest dispersion set separated (cores)
MAX_SET = 64
LP_METHOD = "highs-ipm"  # interior point + crossover: 3-14x faster than dual simplex here


def star_minimum(k: int, cpt: int) -> float:
    """Least sum of hops from one slot to ``k`` other slots (cpt cores per tile, unbounded mesh)."""
    return float(slot_distances(k, cpt).sum()) if k > 0 else 0.0


@lru_cache(maxsize=None)
def wiener_minimum(q: int) -> int:
    """Lower bound (exact up to q = 6, 36 < 38 at q = 7; see tests) on the least sum of pairwise Manhattan distances
    of ``q`` distinct points of the integer grid.

    The sum splits into columns and rows: sum over the vertical grid lines of (points left of it)
    x (points right of it), plus the same for horizontal lines. A set compacted to a w x h
    bounding box with no empty column or row has w column counts in [1, h] and h row counts in
    [1, w]; each split part is minimized separately over such counts (dynamic programming), then
    the least total over all (w, h) with w h >= q."""
    if q <= 1:
        return 0
    big = np.iinfo(np.int64).max // 4
    f = np.arange(q + 1, dtype=np.int64) * (q - np.arange(q + 1, dtype=np.int64))
    # split[w][cap]: least sum over the w - 1 inner lines of f(points left), w counts in [1, cap]
    split = np.full((q + 1, q + 1), big, np.int64)
    for cap in range(1, q + 1):
        best = np.full(q + 1, big, np.int64)  # best[L]: c columns holding L points, lines between them
        best[1:cap + 1] = 0
        for w in range(1, q + 1):
            split[w, cap] = best[q]
            nxt = np.full(q + 1, big, np.int64)
            for a in range(1, cap + 1):
                cand = best[:q + 1 - a] + f[:q + 1 - a]
                nxt[a:] = np.minimum(nxt[a:], cand)
            best = np.minimum(nxt, big)
    out = big
    for w in range(1, q + 1):
        for h in range(-(-q // w), q + 1):
            out = min(out, int(split[w, h]) + int(split[h, w]))
    return int(out)


@lru_cache(maxsize=None)
def dispersion_minimum(s: int, cpt: int) -> int:
    """Lower bound on the least sum of pairwise hops of ``s`` cores on distinct slots, ``cpt`` per tile.

    Exchange argument: if two tiles t, u both hold fewer than cpt of the cores, moving one core
    u -> t or t -> u changes the sum by amounts adding up to -2 hops(t, u) < 0, so an optimal set
    fills q = s // cpt tiles Q and puts the r = s % cpt others on one more tile p. Its sum is
    cpt^2 W(Q) + cpt r hops(p, Q) = cpt (cpt - r) W(Q) + cpt r W(Q + p), W the pairwise sum of
    distinct tiles, bounded below by :func:`wiener_minimum`."""
    q, r = divmod(int(s), int(cpt))
    return cpt * (cpt - r) * wiener_minimum(q) + cpt * r * wiener_minimum(q + 1)


def dispersion_lp_bound(sym: sp.spmatrix, cpt: int, shape: tuple[int, int], max_rounds: int = 100,
                        cuts_per_round: int = 60, triangles_per_round: int | None = None,
                        seeds_per_core: int | None = None, stall: float = 3e-3,
                        stall_rounds: int = 3, pairs: str | None = None,
                        time_limit: float | None = None, progress=None) -> tuple[float, dict]:
    """Proven lower bound (packets x hops per step) on every placement's traffic x hops (module doc).

    ``sym``: symmetric core x core traffic; ``shape``: the board's tile grid. Cutting planes:
    each round solves the LP (HiGHS) and adds violated cuts -- every core's most violated star
    cut, at most ``cuts_per_round`` dispersion cuts and at most ``triangles_per_round``
    (default 40 n) triangle inequalities, most violated first -- until none is violated or
    ``max_rounds`` LPs were solved or the last ``stall_rounds`` rounds raised the LP value by at
    most a fraction ``stall`` of it; deterministic. Dispersion sets grow from every pair of cores,
    or with ``seeds_per_core`` (default: all up to ``ALL_PAIRS_MAX_CORES`` cores, else 4) from each
    core and its nearest cores in the LP distances (sets of at most ``MAX_SET`` cores).
    ``pairs``: ``"all"`` (default up to ``ALL_PAIRS_MAX_CORES``) gives every core pair a distance
    variable; ``"traffic"`` (default above) only the pairs that exchange traffic, and keeps the
    cuts that involve only those -- stars over a core's partners, triangles and dispersion sets
    within the traffic graph -- a weaker but still valid relaxation whose size grows with the
    traffic graph, not n^2. ``time_limit``: wall seconds for the whole bound (HiGHS gets what is left
    for each LP; no new round starts after it; None: unbounded, deterministic); a bound from the
    rounds finished in time is still valid. Returns (bound, stats) with stats ``rounds`` (LPs solved),
    ``cuts``, ``lp_value`` (last LP optimum), ``converged`` (no violated cut left), ``timed_out``.
    ``progress(rounds, max_rounds)`` is called after each LP solved."""
    deadline = None if time_limit is None else time.monotonic() + float(time_limit)
    sym = sp.csr_matrix(sym, dtype=float)
    n = sym.shape[0]
    if n <= 1 or sym.nnz == 0:
        return 0.0, {"rounds": 0, "cuts": 0, "lp_value": 0.0, "converged": True}
    dense = sym.toarray()
    iu, ju = np.triu_indices(n, 1)
    small = n <= ALL_PAIRS_MAX_CORES
    if (pairs or ("all" if small else "traffic")) == "traffic":
        keep = dense[iu, ju] > 0
        iu, ju = iu[keep], ju[keep]
    n_pairs = len(iu)
    pid = np.full((n, n), -1, np.int64)
    pid[iu, ju] = pid[ju, iu] = np.arange(n_pairs)
    cost = dense[iu, ju]
    dmax = float(min(n, shape[0]) - 1 + min(n, shape[1]) - 1)
    stars = np.array([star_minimum(k, cpt) for k in range(n + 1)])
    disp = np.array([dispersion_minimum(s, cpt) for s in range(min(n, MAX_SET) + 1)], float)
    tri_cap = 40 * n if triangles_per_round is None else int(triangles_per_round)
    seeds = None if (seeds_per_core is None and small) else (4 if seeds_per_core is None else int(seeds_per_core))
    cuts = _Cuts(n_pairs)
    best, value, rounds, converged = 0.0, 0.0, 0, False
    history: list[float] = []
    timed_out = False
    while rounds < max_rounds:
        opts = {}
        if deadline is not None:
            left = deadline - time.monotonic()
            if left < 0.05:
                timed_out = True
                break
            opts["time_limit"] = left
        a_ub, b_ub = cuts.matrix()
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0.0, dmax), method=LP_METHOD, options=opts)
        if res.status != 0:
            timed_out = timed_out or res.status == 1
            break
        rounds += 1
        if progress is not None:
            progress(rounds, max_rounds)
        value = float(res.fun)
        history.append(value)
        if a_ub is not None:
            lam = np.maximum(0.0, -np.asarray(res.ineqlin.marginals, float))
            reduced = cost + a_ub.T @ lam
            best = max(best, float(-lam @ b_ub + np.minimum(reduced, 0.0).sum() * dmax))
        if len(history) > stall_rounds and history[-1] - history[-1 - stall_rounds] <= stall * history[-1]:
            break  # tailing off
        d = np.full((n, n), np.inf)  # pairs without a variable: no cut may use them
        np.fill_diagonal(d, 0.0)
        d[iu, ju] = d[ju, iu] = res.x
        new = _separate_triangles(d, pid, tri_cap, cuts)
        new += _separate(d, pid, stars, disp, cuts_per_round, seeds, cuts)
        if new == 0:
            converged = True
            break
    return max(best, 0.0), {"rounds": rounds, "cuts": len(cuts.rhs), "lp_value": value, "converged": converged,
                            "timed_out": timed_out}


class _Cuts:
    """Cut rows sum(coef x d[cols]) <= rhs over the pair variables, without duplicates."""

    def __init__(self, n_pairs: int):
        self.n_pairs = n_pairs
        self.cols: list[np.ndarray] = []
        self.coefs: list[np.ndarray] = []
        self.rhs: list[float] = []
        self.seen: set[bytes] = set()

    def add(self, cols: np.ndarray, coefs: np.ndarray, rhs: float) -> int:
        order = np.argsort(cols, kind="stable")
        cols, coefs = np.asarray(cols, np.int64)[order], np.asarray(coefs, float)[order]
        key = cols.tobytes() + coefs.tobytes()
        if key in self.seen:
            return 0
        self.seen.add(key)
        self.cols.append(cols)
        self.coefs.append(coefs)
        self.rhs.append(float(rhs))
        return 1

    def matrix(self):
        if not self.rhs:
            return None, None
        lens = np.array([len(c) for c in self.cols])
        a = sp.csr_matrix((np.concatenate(self.coefs), (np.repeat(np.arange(len(lens)), lens),
                                                        np.concatenate(self.cols))), shape=(len(lens), self.n_pairs))
        return a, np.asarray(self.rhs, float)


def _separate_triangles(d: np.ndarray, pid: np.ndarray, cap: int, cuts: _Cuts) -> int:
    """Add, for the pairs (i, k) whose LP distance most exceeds their shortest two-step path
    d_ij + d_jk, the triangle inequality d_ik <= d_ij + d_jk (at most ``cap``)."""
    n = len(d)
    via = np.full((n, n), np.inf)
    mid = np.zeros((n, n), np.int64)
    for j in range(n):
        path = d[:, j, None] + d[None, j, :]
        path[j, :] = np.inf
        path[:, j] = np.inf
        better = path < via
        via[better] = path[better]
        mid[better] = j
    iu, ku = np.nonzero(np.triu(pid >= 0, 1))
    excess = d[iu, ku] - via[iu, ku]
    hit = np.flatnonzero(excess > 1e-6)
    hit = hit[np.argsort(-excess[hit], kind="stable")][:cap]
    new = 0
    for h in hit:
        i, k, j = iu[h], ku[h], mid[iu[h], ku[h]]
        new += cuts.add(np.array([pid[i, k], pid[i, j], pid[j, k]]), np.array([1.0, -1.0, -1.0]), 0.0)
    return new


def _separate(d: np.ndarray, pid: np.ndarray, stars: np.ndarray, disp: np.ndarray, cuts_per_round: int,
              seeds_per_core: int | None, cuts: _Cuts) -> int:
    """Add violated star cuts (each core's worst prefix of its nearest cores) and dispersion cuts
    (sets grown from seed pairs by repeatedly adding the core nearest to the set in total) for
    the LP distances ``d``; returns how many new cuts were added."""
    n = len(d)
    tol = 1e-6
    new = 0
    for i in range(n):
        order = np.argsort(d[i], kind="stable")
        order = order[order != i]
        short = stars[1:n] - np.cumsum(d[i, order])
        k = int(np.argmax(short))
        if short[k] > tol:
            new += cuts.add(pid[i, order[:k + 1]], -np.ones(k + 1), -stars[k + 1])
    if seeds_per_core is None:
        iu, ju = np.triu_indices(n, 1)
    else:
        near = np.argsort(d + np.diag(np.full(n, np.inf)), axis=1, kind="stable")[:, :seeds_per_core]
        pairs = np.unique(np.sort(np.stack([np.repeat(np.arange(n), near.shape[1]), near.ravel()], 1), axis=1), axis=0)
        iu, ju = pairs[:, 0], pairs[:, 1]
    n_seeds = len(iu)
    rows = np.arange(n_seeds)
    inside = np.zeros((n_seeds, n), bool)
    inside[rows, iu] = inside[rows, ju] = True
    members = np.empty((n_seeds, n), np.int64)
    members[:, 0], members[:, 1] = iu, ju
    to_set = d[iu] + d[ju]                     # each core's total distance to the growing set
    total = d[iu, ju].copy()                   # sum of pairwise distances within the set
    found: list[tuple[float, int, int]] = []   # (-violation, seed, size)
    for size in range(3, len(disp)):  # disp covers the set sizes separated
        cand = np.where(inside, np.inf, to_set)
        nxt = np.argmin(cand, axis=1)
        total += cand[rows, nxt]  # inf when no core outside the set has a variable to every member
        inside[rows, nxt] = True
        members[:, size - 1] = nxt
        to_set += d[nxt]
        short = disp[size] - total  # -inf once a set needs a pair without a variable
        for s in np.flatnonzero(short > tol):
            found.append((-float(short[s]), int(s), size))
    found.sort()
    for _, s, size in found[:cuts_per_round]:
        m = members[s, :size]
        a, b = np.triu_indices(size, 1)
        new += cuts.add(pid[m[a], m[b]], -np.ones(len(a)), -float(disp[size]))
    return new
