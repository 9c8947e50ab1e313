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

So the LP optimum is at most the optimal placement's traffic x hops. Star and dispersion cuts are
exponentially many; they are separated from each LP solution (stars exactly, dispersion sets
grown greedily from every pair of cores) for a bounded number of rounds. The returned bound is
not the solver's floating-point optimum but the Lagrangian value of its duals, which is a lower
bound for any non-negative multipliers, so solver tolerances cannot make it invalid.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from neuromap.placement.mesh_bounds import slot_distances


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


def dispersion_lp_bound(sym: sp.spmatrix, cpt: int, shape: tuple[int, int], max_rounds: int = 60,
                        cuts_per_round: int = 60) -> tuple[float, dict]:
    """Proven lower bound (packets x hops per step) on every placement's traffic x hops (module doc).

    ``sym``: symmetric core x core traffic; ``shape``: the board's tile grid. Runs at most
    ``max_rounds`` LP solves, adding at most ``cuts_per_round`` dispersion cuts (most violated
    first) and every core's most violated star cut per round; deterministic. Returns (bound,
    stats) with stats ``rounds``, ``cuts``, ``lp_value`` (last LP optimum)."""
    sym = sp.csr_matrix(sym, dtype=float)
    n = sym.shape[0]
    if n <= 1 or sym.nnz == 0:
        return 0.0, {"rounds": 0, "cuts": 0, "lp_value": 0.0}
    dense = sym.toarray()
    iu, ju = np.triu_indices(n, 1)
    n_pairs = len(iu)
    pid = np.full((n, n), -1, np.int64)
    pid[iu, ju] = pid[ju, iu] = np.arange(n_pairs)
    cost = dense[iu, ju]
    dmax = float(min(n, shape[0]) - 1 + min(n, shape[1]) - 1)
    tri = np.array(list(itertools.combinations(range(n), 3)), np.int64).reshape(-1, 3)
    ij, ik, jk = pid[tri[:, 0], tri[:, 1]], pid[tri[:, 0], tri[:, 2]], pid[tri[:, 1], tri[:, 2]]
    cols = np.concatenate([np.stack([ik, ij, jk], 1), np.stack([ij, ik, jk], 1), np.stack([jk, ij, ik], 1)])
    m3 = len(cols)
    a_tri = sp.csr_matrix((np.tile([1.0, -1.0, -1.0], m3), (np.repeat(np.arange(m3), 3), cols.ravel())),
                          shape=(m3, n_pairs))
    stars = np.array([star_minimum(k, cpt) for k in range(n + 1)])
    disp = np.array([dispersion_minimum(s, cpt) for s in range(n + 1)], float)
    cut_rows: list[np.ndarray] = []
    cut_rhs: list[float] = []
    seen: set[bytes] = set()

    def add(pairs: np.ndarray, need: float) -> int:
        key = np.sort(pairs).tobytes()
        if key in seen:
            return 0
        seen.add(key)
        cut_rows.append(np.sort(pairs))
        cut_rhs.append(need)
        return 1

    best, value, rounds = 0.0, 0.0, 0
    for rounds in range(1, max_rounds + 1):
        if cut_rows:
            lens = np.array([len(r) for r in cut_rows])
            a_cut = sp.csr_matrix((-np.ones(lens.sum()), (np.repeat(np.arange(len(cut_rows)), lens),
                                                          np.concatenate(cut_rows))), shape=(len(cut_rows), n_pairs))
            a_ub = sp.vstack([a_tri, a_cut]).tocsr()
        else:
            a_ub = a_tri
        b_ub = np.r_[np.zeros(m3), -np.asarray(cut_rhs, float)]
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0.0, dmax), method="highs")
        if res.status != 0:
            break
        value = float(res.fun)
        lam = np.maximum(0.0, -np.asarray(res.ineqlin.marginals, float))
        reduced = cost + a_ub.T @ lam
        best = max(best, float(-lam @ b_ub + np.minimum(reduced, 0.0).sum() * dmax))
        d = np.zeros((n, n))
        d[iu, ju] = d[ju, iu] = res.x
        new = _separate(d, pid, stars, disp, cuts_per_round, add)
        if new == 0:
            break
    return max(best, 0.0), {"rounds": rounds, "cuts": len(cut_rows), "lp_value": value}


def _separate(d: np.ndarray, pid: np.ndarray, stars: np.ndarray, disp: np.ndarray, cuts_per_round: int,
              add) -> int:
    """Add violated star cuts (each core's worst prefix of its nearest cores) and dispersion cuts
    (sets grown from every pair by repeatedly adding the core nearest to the set in total) for
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
            new += add(pid[i, order[:k + 1]], stars[k + 1])
    iu, ju = np.triu_indices(n, 1)
    seeds = len(iu)
    inside = np.zeros((seeds, n), bool)
    inside[np.arange(seeds), iu] = inside[np.arange(seeds), ju] = True
    members = np.empty((seeds, n), np.int64)
    members[:, 0], members[:, 1] = iu, ju
    to_set = d[iu] + d[ju]                     # each core's total distance to the growing set
    total = d[iu, ju].copy()                   # sum of pairwise distances within the set
    found: list[tuple[float, int, int]] = []   # (violation, seed, size)
    for size in range(3, n + 1):
        nxt = np.argmin(np.where(inside, np.inf, to_set), axis=1)
        total += to_set[np.arange(seeds), nxt]
        inside[np.arange(seeds), nxt] = True
        members[:, size - 1] = nxt
        to_set += d[nxt]
        short = disp[size] - total
        for s in np.flatnonzero(short > tol):
            found.append((-float(short[s]), int(s), size))
    found.sort()
    for _, s, size in found[:cuts_per_round]:
        m = members[s, :size]
        a, b = np.triu_indices(size, 1)
        new += add(pid[m[a], m[b]], float(disp[size]))
    return new
