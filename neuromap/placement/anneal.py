"""Simulated annealing over slot assignments: a polish for mesh placements of up to a few dozen cores.

Move: one core to a random slot of the candidate set, swapping with the core there if any; the
change of sum(traffic x hops) is computed from that core's (and the swapped core's) row of the
symmetric traffic matrix. Metropolis acceptance with a temperature falling linearly to ~0.
Deterministic for a given seed (numba's ``np.random`` is seeded inside the kernel).
"""
from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp


def anneal(sym: sp.spmatrix, sx: np.ndarray, sy: np.ndarray, pos: np.ndarray, iterations: int,
           seed: int = 0, chains: int = 2) -> tuple[np.ndarray, float]:
    """Best of ``chains`` annealing runs of ``iterations`` moves each, all started from ``pos``.

    ``sym``: symmetric core x core traffic (packets per step); ``sx``, ``sy``: tile coordinates of
    every candidate slot; ``pos``: slot of each core. Returns (positions, their sum(traffic x
    hops)); the result is never worse than ``pos``."""
    dense = np.ascontiguousarray(sp.csr_matrix(sym).toarray(), dtype=np.float64)
    np.fill_diagonal(dense, 0.0)
    w = dense[dense > 0]
    sx, sy = np.asarray(sx, np.int64), np.asarray(sy, np.int64)
    best = np.asarray(pos, np.int64).copy()
    best_cost = _cost(dense, sx, sy, best)
    if not len(w) or len(sx) < 2:
        return best, best_cost
    t0 = 3.0 * float(w.mean())
    for k in range(chains):
        p, c = _anneal(dense, sx, sy, best.copy(), int(iterations), int(seed) * 7919 + k, t0)
        c = _cost(dense, sx, sy, p)  # recomputed: the running sum drifts by rounding
        if c < best_cost - 1e-9:
            best, best_cost = p, c
    return best, best_cost


def _cost(dense, sx, sy, pos) -> float:
    d = np.abs(sx[pos][:, None] - sx[pos][None, :]) + np.abs(sy[pos][:, None] - sy[pos][None, :])
    return float((dense * d).sum() / 2)


@numba.njit(cache=True)
def _anneal(dense, sx, sy, pos, iterations, seed, t0):
    np.random.seed(seed)
    n, m = dense.shape[0], len(sx)
    occ = -np.ones(m, np.int64)
    for i in range(n):
        occ[pos[i]] = i
    cur = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            cur += dense[i, j] * (abs(sx[pos[i]] - sx[pos[j]]) + abs(sy[pos[i]] - sy[pos[j]]))
    best = cur
    best_pos = pos.copy()
    for it in range(iterations):
        temp = t0 * (1.0 - it / iterations) + 1e-9
        i = np.random.randint(n)
        s = np.random.randint(m)
        a = pos[i]
        if s == a:
            continue
        j = occ[s]
        delta = 0.0
        for k in range(n):
            if k == i or k == j:
                continue
            ka = abs(sx[a] - sx[pos[k]]) + abs(sy[a] - sy[pos[k]])
            ks = abs(sx[s] - sx[pos[k]]) + abs(sy[s] - sy[pos[k]])
            delta += dense[i, k] * (ks - ka)
            if j >= 0:
                delta += dense[j, k] * (ka - ks)
        if delta <= 0.0 or np.random.random() < np.exp(-delta / temp):
            if j >= 0:
                pos[j] = a
                occ[a] = j
            else:
                occ[a] = -1
            pos[i] = s
            occ[s] = i
            cur += delta
            if cur < best - 1e-9:
                best = cur
                best_pos[:] = pos
    return best_pos, best
