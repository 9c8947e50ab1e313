"""Lower bounds for mesh placement, valid for *every* placement of the cores on the board.

Objective: sum over core pairs of traffic (packets per step) x Manhattan hops between their
tiles, ``cores_per_tile`` (cpt) cores per tile (0 hops apart). Bounds:

- :func:`gilmore_lawler`: per core, its partners at the smallest distances one slot offers.
- :func:`metric_bound`: CP-SAT lower bound of a relaxation over pairwise hop distances d_ij
  that every placement satisfies: triangle inequalities; parity (d_ij is odd iff tiles i and j
  have different colour (x + y) mod 2); at most ``cpt (2 r^2 + 2 r + 1) - 1`` other cores
  within r hops of a core (r = 0, 1, 2; capped by the board's slots); d_ij <= the largest
  distance of a *compacted* placement (see below). Any placement's distances are feasible, so
  the relaxation's optimum -- and CP-SAT's proven bound on it -- is a lower bound.
- :func:`link_load_bound`: busiest directed link (packets per step) of any placement.

Compaction: deleting an empty tile column (shifting every column right of it one left) never
lengthens a route, so some optimal placement occupies every column of its bounding box and
every row: width <= min(n, tiles_x), height <= min(n, tiles_y).
"""
from __future__ import annotations

import itertools

import numba
import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from neuromap.placement.cpsat_util import make_solver, solved, status_name


def gilmore_lawler(sym: sp.spmatrix, cpt: int) -> float:
    """Lower bound on sum(traffic x hops) for any placement with ``cpt`` cores per tile.

    ``sym``: symmetric core x core traffic (a -> b plus b -> a). Per core c: the cheapest way to
    put its partners at the distances a slot offers on an unbounded mesh (cpt - 1 slots at 0
    hops, 4 d cpt at d hops), heaviest partner nearest; each link counted from both ends, so
    the bound is half the sum.
    """
    sym = sp.csr_matrix(sym)
    sym = (sym - sp.diags(sym.diagonal())).tocsr()
    sym.eliminate_zeros()
    ptr, data = sym.indptr, sym.data  # row slices of the CSR arrays: no sparse row objects (6000 cores: 3 s -> 0.3 s)
    return 0.5 * sum(core_cut(data[ptr[c]:ptr[c + 1]], cpt) for c in range(sym.shape[0]))


def gilmore_lawler_of(traffic: sp.spmatrix, cpt: int) -> float:
    """:func:`gilmore_lawler` of ``traffic + traffic.T`` (the same number, bit for bit) without building the
    symmetric matrix and its copies: per core, its row and its column (one CSC copy of ``traffic``) merged in a
    compiled pass (a core x core matrix of a network with one neuron per core has about one entry per
    synapse: each copy 12 bytes per synapse)."""
    t = sp.csr_matrix(traffic, dtype=float)
    n = t.shape[0]
    acc, seen, touched, buf = _scratch(n)
    total = 0.0
    for c0, c1, cptr, cind, cdata in column_blocks(t):
        for c in range(c0, c1):
            m = _row_values(c, t.indptr, t.indices, t.data, cptr, cind, cdata, True, acc, seen, touched, buf)
            total += core_cut(buf[:m], cpt)
    return 0.5 * total


#: most entries of one block of :func:`column_blocks` (at least; else an eighth of the matrix)
BLOCK_ENTRIES = 1 << 22


def column_blocks(t: sp.csr_matrix, max_entries: int | None = None):
    """The columns of CSR ``t`` as CSC in blocks of consecutive columns (``(c0, c1, cptr, cind, cdata)``: column
    c of ``c0 <= c < c1`` is ``cind/cdata[cptr[c]:cptr[c + 1]]``, rows ascending, as ``t.tocsc()`` lists them),
    each of at most ``max_entries`` entries (default: an eighth of ``t``, at least :data:`BLOCK_ENTRIES`) or one
    column: the whole CSC copy of a core x core matrix with one entry per synapse (12 bytes per synapse) is never
    held at once; each block costs one pass over ``t``'s column indices."""
    n = t.shape[1]
    if max_entries is None:
        max_entries = max(BLOCK_ENTRIES, t.nnz // 8 + 1)
    per_col = _column_counts(t.indices, n)
    c0 = 0
    while c0 < n:
        c1, size = c0, 0
        while c1 < n and (c1 == c0 or size + per_col[c1] <= max_entries):
            size += per_col[c1]
            c1 += 1
        cptr, cind, cdata = _column_block(t.indptr, t.indices, t.data, per_col, c0, c1, int(size))
        yield c0, c1, cptr, cind, cdata
        del cptr, cind, cdata
        c0 = c1


@numba.njit(cache=True)
def _column_counts(indices, n):  # pragma: no cover - compiled
    out = np.zeros(n, np.int64)
    for k in range(indices.shape[0]):
        out[indices[k]] += 1
    return out


@numba.njit(cache=True)
def _column_block(indptr, indices, data, per_col, c0, c1, size):  # pragma: no cover - compiled
    """Columns ``c0..c1-1`` of a CSR matrix as CSC arrays (``cptr`` indexed by global column, n + 1 long)."""
    n = per_col.shape[0]
    cptr = np.zeros(n + 1, np.int64)
    for c in range(c0, c1):
        cptr[c + 1] = cptr[c] + per_col[c]
    fill = cptr.copy()
    cind = np.empty(size, indices.dtype)
    cdata = np.empty(size, np.float64)
    for r in range(indptr.shape[0] - 1):
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            if c0 <= c < c1:
                cind[fill[c]] = r
                cdata[fill[c]] = data[k]
                fill[c] += 1
    return cptr, cind, cdata


def _scratch(n: int):
    return np.zeros(n, np.float64), np.zeros(n, np.bool_), np.empty(n, np.int64), np.empty(n, np.float64)


@numba.njit(cache=True)
def _add_entries(c, lo, hi, ind, data, acc, seen, touched, m):  # pragma: no cover - compiled
    """Entries ``lo:hi`` of a compressed row/column (``ind``, ``data``) but index ``c`` added into ``acc``;
    new indices appended to ``touched[m:]``; returns the new count."""
    for k in range(lo, hi):
        j = ind[k]
        if j == c:
            continue
        if not seen[j]:
            seen[j] = True
            touched[m] = j
            m += 1
        acc[j] += data[k]
    return m


@numba.njit(cache=True)
def _row_values(c, ptr, ind, data, cptr, cind, cdata, both, acc, seen, touched, out):  # pragma: no cover - compiled
    """Into ``out``: the nonzero off-diagonal values of row ``c`` (CSR ``ptr``/``ind``/``data``), plus (``both``)
    column ``c`` (CSC ``cptr``/``cind``/``cdata``) added entry by entry -- row ``c`` of ``t + t.T`` -- in the
    order of first appearance; returns how many. ``acc``/``seen``: zeroed scratch of length n, left zeroed."""
    m = _add_entries(c, ptr[c], ptr[c + 1], ind, data, acc, seen, touched, 0)
    if both:
        m = _add_entries(c, cptr[c], cptr[c + 1], cind, cdata, acc, seen, touched, m)
    n = 0
    for i in range(m):
        j = touched[i]
        if acc[j] != 0.0:
            out[n] = acc[j]
            n += 1
        acc[j] = 0.0
        seen[j] = False
    return n


def core_cut(weights: np.ndarray, cpt: int) -> float:
    """Least sum(weight x hops) of one core's partners (weights, no self) on an unbounded mesh."""
    w = np.sort(np.asarray(weights, float))[::-1]
    return float(w @ slot_distances(len(w), cpt))


def slot_distances(k: int, cpt: int) -> np.ndarray:
    """The k smallest hop distances from one slot to other slots: cpt - 1 zeros, then 4 d cpt at d."""
    d = np.arange(1, int(np.sqrt(k / (2 * cpt))) + 3)  # 2 cpt D (D + 1) >= k slots within D hops
    return np.r_[np.zeros(cpt - 1), np.repeat(d, 4 * d * cpt)][:k]


def metric_bound(sym: sp.spmatrix, cpt: int, shape: tuple[int, int], time_limit: float, seed: int = 0,
                 num_workers: int = 1, hint_x: np.ndarray | None = None,
                 hint_y: np.ndarray | None = None, budget=None) -> tuple[float | None, str]:
    """CP-SAT's proven lower bound (packets x hops per step) on the distance relaxation (module doc).

    ``shape``: the board's tile grid (tiles_x, tiles_y); ``hint_*``: tile coordinates of a known
    placement (solution hint). Traffic is scaled to integers like the placement model (x1, or
    x1000 and rounded down, so the bound stays valid). Returns (bound or None, status name).
    ``time_limit``: wall seconds when ``budget`` (:mod:`.budget`) is a wall-clock budget, else
    deterministic units (charged to ``budget`` if given).
    """
    t = sp.triu(sp.csr_matrix(sym), k=1).tocoo()
    keep = t.data > 0
    rows, cols, w = t.row[keep], t.col[keep], t.data[keep]
    n = sym.shape[0]
    if n <= 1 or not len(w):
        return 0.0, "OPTIMAL"
    scale = 1 if np.all(w == np.round(w)) else 1000
    wi = np.floor(w * scale + 1e-9).astype(np.int64)
    nx, ny = int(shape[0]), int(shape[1])
    dmax = min(n, nx) - 1 + min(n, ny) - 1
    m = cp_model.CpModel()
    colour = [m.NewBoolVar("") for _ in range(n)]
    d = {}
    for i, j in itertools.combinations(range(n), 2):
        odd = m.NewBoolVar("")
        m.AddBoolXOr([colour[i], colour[j], odd.Not()])
        half = m.NewIntVar(0, dmax // 2, "")
        d[i, j] = m.NewIntVar(0, dmax, "")
        m.Add(d[i, j] == 2 * half + odd)
    for i, j, k in itertools.combinations(range(n), 3):
        m.Add(d[i, k] <= d[i, j] + d[j, k])
        m.Add(d[i, j] <= d[i, k] + d[j, k])
        m.Add(d[j, k] <= d[i, j] + d[i, k])
    near = {}
    for (i, j), dij in d.items():
        for r in (0, 1, 2):
            b = near[i, j, r] = m.NewBoolVar("")
            m.Add(dij <= r).OnlyEnforceIf(b)
            m.Add(dij >= r + 1).OnlyEnforceIf(b.Not())
    for i in range(n):
        for r in (0, 1, 2):
            room = min(cpt * (2 * r * r + 2 * r + 1), cpt * nx * ny) - 1
            if room < n - 1:
                m.Add(sum(near[min(i, j), max(i, j), r] for j in range(n) if j != i) <= room)
    m.Add(colour[0] == 0)  # swapping colours maps a solution to one
    m.Minimize(sum(int(wt) * d[int(r), int(c)] for r, c, wt in zip(rows, cols, wi) if wt))
    if hint_x is not None:
        hx, hy = np.asarray(hint_x, np.int64), np.asarray(hint_y, np.int64)
        flip = int((hx[0] + hy[0]) % 2)
        for i in range(n):
            m.AddHint(colour[i], int((hx[i] + hy[i]) % 2) ^ flip)
        for (i, j), dij in d.items():
            m.AddHint(dij, min(int(abs(hx[i] - hx[j]) + abs(hy[i] - hy[j])), dmax))
    solver = make_solver(time_limit, seed, num_workers, budget=budget)
    status = solver.Solve(m)
    if budget is not None:
        budget.after_cpsat(solver)
    if not solved(status) and status != cp_model.UNKNOWN:
        return None, status_name(status)
    return max(0.0, solver.BestObjectiveBound() / scale), status_name(status)


def link_load_bound(traffic: sp.spmatrix, cpt: int, max_groups: int = 20000,
                    shape: tuple[int, int] | None = None, hop_bound: float = 0.0) -> float:
    """Lower bound on the busiest directed link's load (packets per step) under any placement.

    Global: the link loads sum to the hop-weighted traffic, so with ``hop_bound`` (a lower bound
    on it) on a board of ``shape`` tiles the busiest of its directed links carries at least
    ``hop_bound`` / (number of directed links). Local: the packets leaving a tile's cores for other tiles all use one
    of its at most 4 outgoing
    links (arrivals: 4 incoming), so max link load >= max(out(G), in(G)) / 4 for the group G
    of cores on any tile. For each core c: the least such value over every group of at most
    ``cpt`` cores holding c (enumerated when there are at most ``max_groups`` per core; else
    relaxed to c's own traffic minus its ``cpt - 1`` heaviest partners); the bound is the
    largest over cores. The larger of the two.
    """
    links = 0 if shape is None else 2 * ((shape[0] - 1) * shape[1] + shape[0] * (shape[1] - 1))
    spread = hop_bound / links if links > 0 else 0.0
    return max(spread, _tile_exit_bound(traffic, cpt, max_groups))


def _tile_exit_bound(traffic: sp.spmatrix, cpt: int, max_groups: int) -> float:
    """The local part of :func:`link_load_bound` (packets per step)."""
    n = traffic.shape[0]
    if n == 0:
        return 0.0
    k = min(cpt, n) - 1
    if _n_choose(n - 1, k) <= max_groups:
        t = sp.csr_matrix(traffic, dtype=float)
        t = t - sp.diags(t.diagonal())
        t.eliminate_zeros()
        out, inn = np.asarray(t.sum(1)).ravel(), np.asarray(t.sum(0)).ravel()
        dense = t.toarray()
        best = np.full(n, np.inf)
        for size in range(1, k + 2):  # every group size 1..cpt
            g = np.array(list(itertools.combinations(range(n), size)), np.int64)
            inside = dense[g[:, :, None], g[:, None, :]].sum((1, 2))  # traffic within the group
            worst = np.maximum(out[g].sum(1) - inside, inn[g].sum(1) - inside)
            for col in range(size):
                np.minimum.at(best, g[:, col], worst)
        return float(best.max(initial=0.0)) / 4
    t = sp.csr_matrix(traffic, dtype=float)   # rows, then columns in blocks (no whole CSC copy)
    acc, seen, touched, buf = _scratch(n)
    bound = 0.0
    blocks = [(0, n, t.indptr, t.indices, t.data)]   # out of each core, then into it
    for c0, c1, ptr, ind, data in itertools.chain(blocks, column_blocks(t)):
        for c in range(c0, c1):
            cnt = _row_values(c, ptr, ind, data, ptr, ind, data, False, acc, seen, touched, buf)
            w = np.sort(buf[:cnt])[::-1]
            bound = max(bound, float(w[k:].sum()) / 4)
    return bound


def _n_choose(a: int, b: int) -> int:
    from math import comb
    return comb(a, b)
