"""Simulated annealing over slot assignments: a polish for mesh placements of up to a few dozen cores.

Move: one core to a random slot of the candidate set, swapping with the core there if any; the
change of sum(traffic x hops) is computed from that core's (and the swapped core's) CSR row of
the symmetric traffic matrix. Metropolis acceptance with a temperature falling linearly to ~0.
Deterministic for a given seed (numba's ``np.random`` is seeded inside the kernel) and move
count; with a wall-clock :class:`~.budget.Budget` the move count is fitted to the time left
(measured on a first chunk of moves), so the result can vary with machine load.
"""
from __future__ import annotations

import time

import numba
import numpy as np
import scipy.sparse as sp

from neuromap.placement.budget import ANNEAL_VISITS_PER_UNIT


def anneal(sym: sp.spmatrix, sx: np.ndarray, sy: np.ndarray, pos: np.ndarray, iterations: int,
           seed: int = 0, chains: int = 2, budget=None) -> tuple[np.ndarray, float]:
    """Best of ``chains`` annealing runs of ``iterations`` moves each, all started from ``pos``.

    ``sym``: symmetric core x core traffic (packets per step); ``sx``, ``sy``: tile coordinates of
    every candidate slot; ``pos``: slot of each core. A move costs O(partners of the moved cores)
    (CSR rows). ``budget`` (:mod:`.budget`): deterministic -- at most :func:`moves_per_unit` moves
    per unit left, charged; wall clock -- each chain gets an equal share of the seconds left and
    runs in chunks, its move count cut to what the first chunk's speed fits in that share.
    Returns (positions, their sum(traffic x hops)); never worse than ``pos``."""
    csr = _off_diagonal(sym)
    sx, sy = np.asarray(sx, np.int64), np.asarray(sy, np.int64)
    best = np.asarray(pos, np.int64).copy()
    best_cost = _cost(csr, sx, sy, best)
    if not csr.nnz or len(sx) < 2:
        return best, best_cost
    t0 = 3.0 * float(csr.data.mean())
    ptr, idx, w = _rows(csr)
    iterations = int(iterations)
    if budget is not None and budget.deterministic:
        rate = moves_per_unit(csr)
        iterations = int(min(iterations, budget.left() * rate / chains))
        budget.charge(chains * iterations / rate)
    for k in range(chains):
        if iterations <= 0 or (budget is not None and not budget.deterministic and budget.expired()):
            break
        share = None if budget is None or budget.deterministic else budget.left() / (chains - k)
        report = None if budget is None else \
            (lambda d, t, k=k: budget.report("mesh.anneal", k * t + d, chains * t))  # noqa: E731
        p = _chain(ptr, idx, w, sx, sy, best.copy(), iterations, int(seed) * 7919 + k, t0, share, report)
        c = _cost(csr, sx, sy, p)  # recomputed exactly: the running sum drifts by rounding
        if c < best_cost - 1e-9:
            best, best_cost = p, c
    return best, best_cost


def moves_per_unit(csr: sp.csr_matrix) -> float:
    """Annealing moves per deterministic work unit: :data:`~.budget.ANNEAL_VISITS_PER_UNIT` over the mean
    partner visits of a move (two CSR rows of mean length, plus 2)."""
    n = max(csr.shape[0], 1)
    return ANNEAL_VISITS_PER_UNIT / (2.0 * csr.nnz / n + 2.0)


def _chain(ptr, idx, w, sx, sy, pos, iterations, seed, t0, seconds=None, report=None):
    """One annealing chain: all ``iterations`` moves in one kernel call, or (``seconds`` given) in
    chunks, the total cut to what the measured speed fits in ``seconds`` (``report(done, total)``
    after each chunk). Returns the best positions."""
    n = len(ptr) - 1
    occ = -np.ones(len(sx), np.int64)
    occ[pos] = np.arange(n)
    best_pos, acc = pos.copy(), np.zeros(2)
    if seconds is None:
        _anneal(ptr, idx, w, sx, sy, pos, occ, best_pos, acc, 0, iterations, iterations, seed, t0)
        return best_pos
    start, total, done, k = time.monotonic(), iterations, 0, 0
    chunk = max(20_000, iterations // 64)
    while done < total:
        end = min(total, done + chunk)
        _anneal(ptr, idx, w, sx, sy, pos, occ, best_pos, acc, done, end, total,
                seed if k == 0 else seed * 1_000_003 + k, t0)
        done, k = end, k + 1
        if report is not None:
            report(done, total)
        spent = time.monotonic() - start
        if spent >= seconds:
            break
        total = min(total, max(done, int(done * seconds / max(spent, 1e-9))))  # fit the rest in the share
    return best_pos


def _off_diagonal(m: sp.spmatrix) -> sp.csr_matrix:
    """``m`` as float64 CSR without its diagonal and explicit zeros, column indices sorted."""
    m = sp.csr_matrix(m, dtype=np.float64)
    m = (m - sp.diags(m.diagonal())).tocsr()
    m.eliminate_zeros()
    m.sort_indices()
    return m


def _rows(csr: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data) of ``csr`` with int64 indices, as the kernels take them."""
    return csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data


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
def _propose(ptr, idx, w, sx, sy, pos, occ):
    """A random move: core i from its slot a to slot s (swapped with core j there, -1 if free), and
    the change of sum(traffic x hops); i = -1 when s == a (no move)."""
    i = np.random.randint(len(pos))
    s = np.random.randint(len(sx))
    a = pos[i]
    if s == a:
        return -1, s, a, -1, 0.0
    j = occ[s]
    delta = _moved_delta(ptr, idx, w, sx, sy, pos, i, j, a, s)
    if j >= 0:
        delta += _moved_delta(ptr, idx, w, sx, sy, pos, j, i, s, a)
    return i, s, a, j, delta


@numba.njit(cache=True)
def _anneal(ptr, idx, w, sx, sy, pos, occ, best_pos, acc, it0, it1, iterations, seed, t0):
    """Moves ``it0 .. it1 - 1`` of a chain of ``iterations`` (temperature falls linearly over the
    chain). ``pos``/``occ`` (slot -> core, -1 free) are updated in place, ``best_pos`` keeps the best
    positions seen, ``acc`` = [cost change so far, best change so far] carries over between chunks."""
    np.random.seed(seed)
    cur = acc[0]
    best = acc[1]
    for it in range(it0, it1):
        temp = t0 * (1.0 - it / iterations) + 1e-9
        i, s, a, j, delta = _propose(ptr, idx, w, sx, sy, pos, occ)
        if i < 0:
            continue
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
    acc[0] = cur
    acc[1] = best


def anneal_links(traffic: sp.spmatrix, sx: np.ndarray, sy: np.ndarray, pos: np.ndarray, hop_cap: float,
                 iterations: int, seed: int = 0, temperature: float = 0.3) -> tuple[np.ndarray, float]:
    """Lower the busiest directed link's load (XY routing, packets per step) by annealing, keeping
    sum(traffic x hops) at most ``hop_cap``.

    ``traffic``: core x core packets per step (a -> b); slots and ``pos`` as in :func:`anneal`.
    Moves as in :func:`anneal`; a move that would push the hop-weighted traffic over ``hop_cap``
    is rejected outright, the others are judged on sum(load^4) over all directed links (a smooth
    stand-in for the peak; Metropolis on its relative change, ``temperature`` (a fraction) falling
    linearly to ~0). Routes follow :func:`~.routing.link_loads` (x first in the source row, then y in the
    destination column). Returns (positions with the lowest peak seen, that peak); never a
    higher peak than ``pos``'s."""
    t = _off_diagonal(traffic)
    sym = _off_diagonal(t + t.T)
    sx, sy = np.asarray(sx, np.int64), np.asarray(sy, np.int64)
    pos = np.asarray(pos, np.int64).copy()
    if not t.nnz or len(sx) < 2:
        return pos, 0.0
    side = max(int(sx.max()), int(sy.max())) + 2  # link arrays: one row/column per tile line
    slack = float(hop_cap) - _cost(sym, sx, sy, pos)
    return _anneal_links(*_rows(t), *_rows(_off_diagonal(t.T)), *_rows(sym), sx, sy, side, pos, slack,
                         int(iterations), int(seed), float(temperature))


@numba.njit(cache=True)
def _route(loads, ax, ay, bx, by, w):
    """Add ``w`` packets along the XY route (ax, ay) -> (bx, by) to ``loads`` (4, side, side):
    loads[0] east [y, x], [1] west [y, x], [2] north [x, y], [3] south [x, y]; returns the
    change of sum(load^4)."""
    d4 = 0.0
    if bx != ax:  # along x in the source row: east (0) or west (1)
        d4 += _add_run(loads, 0 if bx > ax else 1, ay, min(ax, bx), max(ax, bx), w)
    if by != ay:  # along y in the destination column: north (2) or south (3)
        d4 += _add_run(loads, 2 if by > ay else 3, bx, min(ay, by), max(ay, by), w)
    return d4


@numba.njit(cache=True)
def _add_run(loads, direction, line, lo, hi, w):
    """Add ``w`` to links lo .. hi - 1 of one row/column; the change of sum(load^4)."""
    d4 = 0.0
    for k in range(lo, hi):
        old = loads[direction, line, k]
        loads[direction, line, k] = old + w
        d4 += (old + w) ** 4 - old ** 4
    return d4


@numba.njit(cache=True)
def _route_core(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, c, skip, sign):
    """Add (sign +1) or remove (-1) every flow into and out of core c, except those with ``skip``."""
    d4 = 0.0
    for e in range(optr[c], optr[c + 1]):
        k = oidx[e]
        if k != skip:
            d4 += _route(loads, sx[pos[c]], sy[pos[c]], sx[pos[k]], sy[pos[k]], sign * ow[e])
    for e in range(iptr[c], iptr[c + 1]):
        k = iidx[e]
        if k != skip:
            d4 += _route(loads, sx[pos[k]], sy[pos[k]], sx[pos[c]], sy[pos[c]], sign * iw[e])
    return d4


@numba.njit(cache=True)
def _pair_flows(loads, optr, oidx, ow, sx, sy, pos, i, j, sign):
    """Add/remove the flows i -> j and j -> i."""
    d4 = 0.0
    for e in range(optr[i], optr[i + 1]):
        if oidx[e] == j:
            d4 += _route(loads, sx[pos[i]], sy[pos[i]], sx[pos[j]], sy[pos[j]], sign * ow[e])
    for e in range(optr[j], optr[j + 1]):
        if oidx[e] == i:
            d4 += _route(loads, sx[pos[j]], sy[pos[j]], sx[pos[i]], sy[pos[i]], sign * ow[e])
    return d4


@numba.njit(cache=True)
def _move_flows(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, i, j, sign):
    """Add/remove every flow of core i and (if j >= 0) core j at their current slots, each once."""
    d4 = _route_core(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, i, j, sign)
    if j >= 0:
        d4 += _route_core(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, j, i, sign)
        d4 += _pair_flows(loads, optr, oidx, ow, sx, sy, pos, i, j, sign)
    return d4


@numba.njit(cache=True)
def _anneal_links(optr, oidx, ow, iptr, iidx, iw, sptr, sidx, sw, sx, sy, side, pos, slack, iterations, seed, t0):
    np.random.seed(seed)
    n, m = len(optr) - 1, len(sx)
    loads = np.zeros((4, side, side))
    for c in range(n):
        for e in range(optr[c], optr[c + 1]):
            k = oidx[e]
            _route(loads, sx[pos[c]], sy[pos[c]], sx[pos[k]], sy[pos[k]], ow[e])
    occ = -np.ones(m, np.int64)
    for i in range(n):
        occ[pos[i]] = i
    f4 = 0.0
    for v in loads.ravel():
        f4 += v ** 4
    best_peak = loads.max()
    best_pos = pos.copy()
    used = 0.0  # hop-weighted traffic added so far (<= slack)
    for it in range(iterations):
        temp = t0 * (1.0 - it / iterations) + 1e-12
        i, s, a, j, dh = _propose(sptr, sidx, sw, sx, sy, pos, occ)
        if i < 0:
            continue
        if used + dh > slack + 1e-9:
            continue
        d4 = _move_flows(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, i, j, -1.0)
        pos[i] = s
        if j >= 0:
            pos[j] = a
        d4 += _move_flows(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, i, j, 1.0)
        rel = d4 / max(f4, 1e-300)
        if rel <= 0.0 or np.random.random() < np.exp(-rel / temp):
            occ[a] = j
            occ[s] = i
            f4 += d4
            used += dh
            peak = loads.max()
            if peak < best_peak - 1e-9:
                best_peak = peak
                best_pos[:] = pos
        else:  # undo
            _move_flows(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, i, j, -1.0)
            pos[i] = a
            if j >= 0:
                pos[j] = s
            _move_flows(loads, optr, oidx, ow, iptr, iidx, iw, sx, sy, pos, i, j, 1.0)
    return best_pos, best_peak
