"""Second, lexicographic mesh-placement phase: least maximum directed link load under XY routing,
the hop-weighted traffic held at or below a given placement's.

Routing as :mod:`~.routing`: a packet from tile (ax, ay) to (bx, by) runs along x in row ay, then
along y in column bx; cores of one tile are 0 hops apart and use no link; each direction of a link
is loaded separately. Loads are packets per step.

Model (CP-SAT), over the *tiles* of a candidate slot set (a one-hot per core, at most as many cores
on a tile as it has slots, so slots within a tile are not told apart): from the one-hot, per core a
row one-hot and column one-hot, and thresholds ``g[i, a] = [col_i <= xs[a]]``,
``h[i, a] = [row_i <= ys[a]]`` (xs, ys: the slot set's distinct columns and rows). For a core pair,
``left(i, j, a) = g[i, a] and not g[j, a]`` (exactly, both ways). The eastward links of row r between
columns xs[a] and xs[a + 1] carry ``sum_i [row_i = r] * sum_j t_ij left(i, j, a)`` (westward: with
``left(j, i, a)``); the northward links of column c between rows ys[a] and ys[a + 1] carry
``sum_j [col_j = c] * sum_i t_ij below(i, j, a)`` (southward: ``below(j, i, a)``). Links between
columns (rows) the slot set skips carry the same as the one they continue. Hop-weighted traffic,
``sum_pairs w_ij (sum_a (left(i,j,a) + left(j,i,a)) (xs[a+1] - xs[a]) + same for rows)``, in the
integer units of the first phase (:func:`~.mesh._int_traffic`), is at most the given placement's.
Minimize L >= every link load, with L at least the tile-exit bound of :func:`~.mesh_bounds.link_load_bound`.
Solved with CP-SAT's interleaved portfolio (its LNS subsolvers take turns on the given worker
count, deterministically): one plain search from the hint rarely leaves it at a fixed traffic cap.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from neuromap.placement.cpsat_util import make_solver, solved, status_name
from neuromap.placement.mesh_bounds import link_load_bound
from neuromap.placement.routing import hop_cost, link_loads


def max_link_load(traffic: sp.spmatrix, tx: np.ndarray, ty: np.ndarray) -> float:
    """Busiest directed link under XY routing (packets per step), on the tiles' bounding grid."""
    shape = (int(tx.max(initial=0)) + 1, int(ty.max(initial=0)) + 1)
    return float(max(m.max(initial=0.0) for m in link_loads(traffic, tx, ty, shape)))


def min_max_link_load(traffic: sp.spmatrix, edges: tuple, sx: np.ndarray, sy: np.ndarray, pos: np.ndarray,
                      time_limit: float, seed: int = 0, num_workers: int = 1,
                      budget=None) -> tuple[np.ndarray, float | None, dict]:
    """Re-place every core on the slot set (tile x ``sx``, y ``sy`` per slot) to lower the busiest link.

    ``traffic``: n x n packets per step (a -> b); ``edges``: the first phase's integer traffic
    ``(rows, cols, weights, scale)`` (upper triangle of traffic + traffic.T, x scale, rounded);
    ``pos``: slot per core, the hint and the hop-weighted traffic cap. Link loads use
    floor(t x scale), so CP-SAT's bound / scale (less a 1e-9 per-pair float allowance) is a proven
    lower bound on the max link load of every placement on these slots whose integer hop-weighted
    traffic is at most ``pos``'s. Returns (slot per core, that bound or None, stats). The new
    placement is returned only if its hop-weighted traffic (floats) is not above ``pos``'s and its
    max link load is lower; otherwise ``pos``. ``time_limit``: wall seconds when ``budget``
    (:mod:`.budget`) is a wall-clock budget, else deterministic units (charged to ``budget`` if given).
    """
    rows_, cols_, w_, scale = edges
    n = traffic.shape[0]
    pos = np.asarray(pos, np.int64)
    tiles, tile_of_slot = np.unique(np.stack([sx, sy], 1), axis=0, return_inverse=True)
    tile_of_slot = tile_of_slot.ravel()
    cap = np.bincount(tile_of_slot, minlength=len(tiles))
    xs, ys = np.unique(tiles[:, 0]), np.unique(tiles[:, 1])
    tcol, trow = np.searchsorted(xs, tiles[:, 0]), np.searchsorted(ys, tiles[:, 1])
    nxa, nya = len(xs) - 1, len(ys) - 1
    t = sp.coo_matrix(traffic)
    keep = (t.row != t.col) & (t.data > 0)
    tr, tc = t.row[keep].astype(np.int64), t.col[keep].astype(np.int64)
    tw = np.floor(t.data[keep] * scale + 1e-9).astype(np.int64)
    tr, tc, tw = tr[tw > 0], tc[tw > 0], tw[tw > 0]
    hw = w_ > 0
    hr, hc, hwt = rows_[hw].astype(np.int64), cols_[hw].astype(np.int64), w_[hw].astype(np.int64)
    # cap in the first phase's integer units, from pos
    px, py = sx[pos], sy[pos]
    cap_hops = int(hwt @ (np.abs(px[hr] - px[hc]) + np.abs(py[hr] - py[hc])))
    pairs = sorted({(int(min(a, b)), int(max(a, b))) for a, b in zip(np.r_[tr, hr], np.r_[tc, hc])})
    # hint values
    ht = tile_of_slot[pos]
    hci, hri = tcol[ht], trow[ht]

    m = cp_model.CpModel()
    T = [[m.NewBoolVar("") for _ in range(len(tiles))] for _ in range(n)]
    for i in range(n):
        m.AddExactlyOne(T[i])
        for k in range(len(tiles)):
            m.AddHint(T[i][k], int(ht[i] == k))
    for k in range(len(tiles)):
        m.Add(sum(T[i][k] for i in range(n)) <= int(cap[k]))

    def onehot_sum(i, mask, hint):
        v = m.NewBoolVar("")
        m.Add(v == sum(T[i][k] for k in np.flatnonzero(mask)))
        m.AddHint(v, int(hint))
        return v

    G = [[onehot_sum(i, tcol <= a, hci[i] <= a) for a in range(nxa)] for i in range(n)]
    H = [[onehot_sum(i, trow <= a, hri[i] <= a) for a in range(nya)] for i in range(n)]
    R = [[onehot_sum(i, trow == r, hri[i] == r) for r in range(len(ys))] for i in range(n)]
    C = [[onehot_sum(i, tcol == c, hci[i] == c) for c in range(len(xs))] for i in range(n)]

    def before(th, hint_idx, i, j, a):
        """Bool: core i at or before threshold a, core j after it (th: G or H)."""
        v = m.NewBoolVar("")
        m.AddBoolOr([th[i][a].Not(), th[j][a], v])
        m.AddImplication(v, th[i][a])
        m.AddImplication(v, th[j][a].Not())
        hv[v.Index()] = int(hint_idx[i] <= a < hint_idx[j])
        m.AddHint(v, hv[v.Index()])
        return v

    left, below, hv = {}, {}, {}
    for i, j in pairs:
        for a in range(nxa):
            left[i, j, a], left[j, i, a] = before(G, hci, i, j, a), before(G, hci, j, i, a)
        for a in range(nya):
            below[i, j, a], below[j, i, a] = before(H, hri, i, j, a), before(H, hri, j, i, a)
    gx, gy = np.diff(xs), np.diff(ys)
    m.Add(sum(int(w) * (sum(int(gx[a]) * (left[i, j, a] + left[j, i, a]) for a in range(nxa))
                        + sum(int(gy[a]) * (below[i, j, a] + below[j, i, a]) for a in range(nya)))
              for i, j, w in zip(hr, hc, hwt)) <= cap_hops)

    total = int(tw.sum())
    # every placement's busiest link carries at least the tile-exit bound (mesh_bounds), here of the
    # floored integer traffic, so this cut keeps every placement the model describes
    exit_lb = link_load_bound(sp.coo_matrix((tw, (tr, tc)), shape=(n, n)), int(cap.max()))
    L = m.NewIntVar(min(int(np.ceil(exit_lb - 1e-9)), total), total, "")
    loads_hint = []

    def add_links(groups, sel, n_th, lit, hint_sel):
        """Links per (selector value, threshold): sum over cores c of [sel_c = value] * groups[c][a]."""
        for a in range(n_th):
            exprs, hints = {}, {}
            for c, terms in groups.items():
                if not terms:
                    continue
                e = sum(int(w) * lit(c, o, a) for o, w in terms)
                val = sum(int(w) * hv[lit(c, o, a).Index()] for o, w in terms)
                for s in range(len(sel[c])):
                    z = m.NewIntVar(0, sum(int(w) for _, w in terms), "")
                    m.Add(z >= e).OnlyEnforceIf(sel[c][s])
                    m.AddHint(z, val if hint_sel[c] == s else 0)
                    exprs.setdefault(s, []).append(z)
                    hints[s] = hints.get(s, 0) + (val if hint_sel[c] == s else 0)
            for s, zs in exprs.items():
                m.Add(L >= sum(zs))
                loads_hint.append(hints[s])

    def east(c, o, a):   # c -> o, c left of the boundary (source row)
        return left[c, o, a]

    def west(c, o, a):
        return left[o, c, a]

    def north(c, o, a):  # o -> c (c the destination), o below the boundary (destination column)
        return below[o, c, a]

    def south(c, o, a):
        return below[c, o, a]

    out = {i: [] for i in range(n)}
    inn = {i: [] for i in range(n)}
    for a, b, w in zip(tr, tc, tw):
        out[int(a)].append((int(b), int(w)))
        inn[int(b)].append((int(a), int(w)))
    add_links(out, R, nxa, east, hri)
    add_links(out, R, nxa, west, hri)
    add_links(inn, C, nya, north, hci)
    add_links(inn, C, nya, south, hci)
    m.AddHint(L, max(loads_hint, default=0))
    m.Minimize(L)
    solver = make_solver(time_limit, seed, num_workers, interleave=True, budget=budget)
    status = solver.Solve(m)
    if budget is not None:
        budget.after_cpsat(solver)
    stats = {"status": status_name(status), "deterministic_time": solver.response_proto.deterministic_time,
             "hop_cap_int": cap_hops, "scale": scale}
    if not solved(status):
        return pos, None, stats
    bound = max(0.0, (solver.BestObjectiveBound() - len(tw) * 1e-9) / scale)
    new = np.empty(n, np.int64)
    free = {k: list(np.flatnonzero(tile_of_slot == k)) for k in range(len(tiles))}
    for i in range(n):
        k = next(k for k in range(len(tiles)) if solver.BooleanValue(T[i][k]))
        new[i] = free[k].pop(0)
    old_hops, new_hops = hop_cost(traffic, sx[pos], sy[pos]), hop_cost(traffic, sx[new], sy[new])
    old_peak, new_peak = max_link_load(traffic, sx[pos], sy[pos]), max_link_load(traffic, sx[new], sy[new])
    stats.update(objective_int=solver.ObjectiveValue(), bound_int=solver.BestObjectiveBound(),
                 peak_before=old_peak, peak_after=min(old_peak, new_peak))
    if new_hops <= old_hops + 1e-9 * max(1.0, old_hops) and new_peak < old_peak - 1e-12:
        return new, bound, stats
    return pos, bound, stats

