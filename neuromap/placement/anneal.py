"""Simulated annealing over slot assignments: a polish for mesh placements of up to a few dozen cores.

Move: one core to a random slot of the candidate set, swapping with the core there if any; the
change of sum(traffic x hops) is computed from that core's (and the swapped core's) CSR row of
the symmetric traffic matrix. Metropolis acceptance with a temperature falling linearly to ~0.
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
    every candidate slot; ``pos``: slot of each core. A move costs O(partners of the moved cores)
    (CSR rows). Returns (positions, their sum(traffic x hops)); never worse than ``pos``."""
    csr = sp.csr_matrix(sym, dtype=np.float64)
    csr = (csr - sp.diags(csr.diagonal())).tocsr()
    csr.eliminate_zeros()
    csr.sort_indices()
    sx, sy = np.asarray(sx, np.int64), np.asarray(sy, np.int64)
    best = np.asarray(pos, np.int64).copy()
    best_cost = _cost(csr, sx, sy, best)
    if not csr.nnz or len(sx) < 2:
        return best, best_cost
    t0 = 3.0 * float(csr.data.mean())
    ptr, idx, w = csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data
    for k in range(chains):
        p = _anneal(ptr, idx, w, sx, sy, best.copy(), int(iterations), int(seed) * 7919 + k, t0)
        c = _cost(csr, sx, sy, p)  # recomputed exactly: the running sum drifts by rounding
        if c < best_cost - 1e-9:
            best, best_cost = p, c
    return best, best_cost


def _cost(csr, sx, sy, pos) -> float:
    t = sp.triu(csr, k=1).tocoo()
    return float(t.data @ (np.abs(sx[pos[t.row]] - sx[pos[t.col]]) + np.abs(sy[pos[t.row]] - sy[pos[t.col]])))


@numba.njit(cache=True)
def _moved_delta(ptr, idx, w, sx, sy, pos, c, skip, a, s):
    """Change of core c's traffic x hops when it moves from slot a to slot s (partner ``skip`` excluded)."""
    delta = 0.0
    for e in range(ptr[c], ptr[c + 1]):
        k = idx[e]
        if k == skip:
            continue
        pk = pos[k]
        delta += w[e] * ((abs(sx[s] - sx[pk]) + abs(sy[s] - sy[pk])) - (abs(sx[a] - sx[pk]) + abs(sy[a] - sy[pk])))
    return delta


@numba.njit(cache=True)
def _anneal(ptr, idx, w, sx, sy, pos, iterations, seed, t0):
    np.random.seed(seed)
    n, m = len(ptr) - 1, len(sx)
    occ = -np.ones(m, np.int64)
    for i in range(n):
        occ[pos[i]] = i
    cur = 0.0
    best = 0.0
    best_pos = pos.copy()
    for it in range(iterations):
        temp = t0 * (1.0 - it / iterations) + 1e-9
        i = np.random.randint(n)
        s = np.random.randint(m)
        a = pos[i]
        if s == a:
            continue
        j = occ[s]
        delta = _moved_delta(ptr, idx, w, sx, sy, pos, i, j, a, s)
        if j >= 0:
            delta += _moved_delta(ptr, idx, w, sx, sy, pos, j, i, s, a)
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
    return best_pos
