"""Place cores on the board's mesh, minimizing sum(traffic x Manhattan hops) under XY routing.

Positions are *slots*: tile (x, y) on the board-wide tile grid plus a core index within
the tile (``mesh.cores_per_tile`` cores share a router, 0 hops apart). Methods:

- ``sequential``: core i -> slot i in board order (chip by chip, tiles row-major) --
  what sequential ids give.
- ``greedy``: in a compact near-square region, place the core with the most traffic to
  already-placed cores at the free slot that adds the least traffic x hops.
- ``cpsat``: CP-SAT on the region, hinted from greedy. Up to ``exact_max_cores`` cores in
  one model, then LNS and simulated annealing (:mod:`~.anneal`), a second phase minimizing
  the busiest link at that traffic (:mod:`~.mesh_links`), and for a bound valid on the whole
  board the distance relaxation of :mod:`~.mesh_bounds` and the LP with dispersion cuts of
  :mod:`~.mesh_lp`; above that, large-neighbourhood search: windows of ``window`` cores
  re-assigned among their own slots (bound: Gilmore-Lawler).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model

from neuromap.errors import TargetError
from neuromap.placement.anneal import anneal, anneal_links
from neuromap.placement.budget import ANNEAL_VISITS_PER_UNIT, Budget, deterministic_budget
from neuromap.placement.cpsat_util import make_solver, solved, status_name
from neuromap.placement.mesh_bounds import core_cut, gilmore_lawler, gilmore_lawler_of, link_load_bound, metric_bound
from neuromap.placement.mesh_links import min_max_link_load
from neuromap.placement.mesh_lp import dispersion_lp_bound
from neuromap.placement.routing import hop_cost, link_loads, route
from neuromap.targets import Target

METHODS = ("sequential", "greedy", "cpsat")


@dataclass
class Placement:
    """Core -> tile position. ``tile_x``/``tile_y``: int64 board-wide tile coordinates,
    ``slot``: core index within its tile. ``objective``: sum of traffic x hops
    (packets x hops per step); ``bound``: proven lower bound on the objective over *every*
    placement of these cores on the board (None if not computed); ``gap`` = (objective -
    bound) / objective; ``link_load_bound``: proven lower bound on the busiest directed
    link's load (packets per step) over every placement; ``link_load_bound_at_traffic`` (exact
    path only): proven lower bound on it over placements on the candidate slots whose
    hop-weighted traffic is at most ``objective`` (:func:`~.mesh_links.min_max_link_load`)."""

    tile_x: np.ndarray
    tile_y: np.ndarray
    slot: np.ndarray
    method: str
    objective: float
    bound: float | None = None
    gap: float | None = None
    link_load_bound: float | None = None
    link_load_bound_at_traffic: float | None = None
    stats: dict = field(default_factory=dict)


def board_slots(target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Tile (x, y) of every core slot of the board, in sequential (board) order."""
    m = target.mesh
    ids = np.arange(target.n_cores)
    tile = ids // m.cores_per_tile
    per_chip = m.tiles_x * m.tiles_y
    chip, t_in = tile // per_chip, tile % per_chip
    cx, cy = chip % m.chips_x, chip // m.chips_x
    return cx * m.tiles_x + t_in % m.tiles_x, cy * m.tiles_y + t_in // m.tiles_x


def place(traffic: sp.spmatrix, target: Target, method: str = "cpsat", time_limit: float = 10.0,
          seed: int = 0, num_workers: int = 1, exact_max_cores: int = 32, window: int = 8,
          link_evals: int = 400, greedy_max_cores: int = 512, small_window: int = 10,
          lp_max_cores: int | None = None, anneal_moves: int = 100_000, anneal_max_cores: int = 8192,
          link_slack: float = 0.0, budget: Budget | None = None) -> Placement:
    """Place ``n`` cores (traffic: n x n packets per step, a -> b) on ``target``'s board.

    Time: ``budget`` (:mod:`.budget`; wall seconds or deterministic units), else ``time_limit``
    deterministic units. Each phase below gets a share of what is left when it starts (so what
    one phase leaves unused goes to the next) and stops at it; the shares are in
    ``SHARES``. ``cpsat`` works on the compact region plus the sequential slots, starts from the
    better of ``greedy`` and ``sequential`` (hint / LNS start) and never returns a worse placement.
    Up to ``exact_max_cores`` cores the slots also cover the region grown by one tile column and
    row, and: one CP-SAT model over all slots (its bound, ``stats["slot_set_bound"]``, holds only
    for placements on those slots), if that is not proven optimal LNS windows (``small_window``
    slots) and simulated annealing over the slots (:func:`~.anneal.anneal`, 2 chains of up to
    ``anneal_moves`` x n moves, at most 10 M), the swap pass below, then the lexicographic link
    phase :func:`~.mesh_links.min_max_link_load` (least max directed link load at hop-weighted
    traffic <= the best so far), and the distance relaxation :func:`~.mesh_bounds.metric_bound`.
    ``bound`` holds for every placement on the board: the largest of
    :func:`~.mesh_bounds.gilmore_lawler`, the relaxation's bound, the LP bound with dispersion cuts
    :func:`~.mesh_lp.dispersion_lp_bound` (last, with what is left; up to ``lp_max_cores`` cores:
    default 512 with a wall-clock budget, 64 with a deterministic one, where HiGHS is not stopped
    by the budget), and the slot-set bound when the slots are the whole board. Above
    ``exact_max_cores`` (up to ``anneal_max_cores``) the same annealing runs from the start, then
    (up to ``LNS_MAX_CORES``) LNS windows. Then up to ``link_evals`` slot swaps/moves lower the maximum link load
    without
    raising the hop-weighted traffic (:func:`balance_links`). ``link_slack`` > 0 (up to
    ``anneal_max_cores`` cores): before that, :func:`~.anneal.anneal_links` trades up to that
    fraction of extra hop-weighted traffic for a lower busiest link (the traffic-optimal
    placement is nearly rigid: at equal traffic there is little to gain); the result can then
    be that much above the best traffic found. Above ``greedy_max_cores`` cores the
    greedy lays cores, in connection order, along a Hilbert curve. Phase wall times land in
    ``budget.split`` (``mesh.*``).
    """
    if method not in METHODS:
        raise TargetError(f"placer: unknown mesh method {method!r} (use one of {', '.join(METHODS)})")
    budget = deterministic_budget(time_limit) if budget is None else budget
    if lp_max_cores is None:
        lp_max_cores = DET_LP_MAX_CORES if budget.deterministic else 512
    n = traffic.shape[0]
    if n > target.n_cores:
        raise TargetError(f"{target.name}: needs {n} cores, the board has {target.n_cores} "
                          "(use a target file with more chips: mesh.chips_x/chips_y)")
    traffic = sp.csr_matrix(traffic, dtype=float)
    cpt = target.mesh.cores_per_tile
    bx, by = board_slots(target)
    if method == "sequential":
        return _placement(traffic, target, bx[:n], by[:n], np.arange(n) % cpt, "sequential")
    with budget.phase("mesh.greedy"):
        rx, ry = _region(n, target)
        sym = (traffic + traffic.T).tocsr()
        pos = _greedy(sym, rx, ry) if n <= greedy_max_cores else _curve_greedy(sym, rx, ry)
    if method == "greedy" or n <= 1:  # one core: 0 hops, trivially optimal
        return _placement(traffic, target, rx[pos], ry[pos], _slot_index(rx[pos], ry[pos], cpt), method,
                          bound=0.0 if method == "cpsat" else None)
    # slot set: region tiles + the sequential tiles, cpt slots each; up to exact_max_cores
    # cores also the region grown by one tile column and row (room for the exact model / LNS)
    gx, gy = rx, ry
    if n <= exact_max_cores:
        nx, ny = target.mesh_shape
        w, h = min(int(rx.max()) + 2, nx), min(int(ry.max()) + 2, ny)
        gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tiles = np.unique(np.stack([np.r_[rx, np.ravel(gx), bx[:n]], np.r_[ry, np.ravel(gy), by[:n]]], 1), axis=0)
    sx, sy = np.repeat(tiles[:, 0], cpt), np.repeat(tiles[:, 1], cpt)
    key = tiles[:, 0] * (int(tiles[:, 1].max()) + 1) + tiles[:, 1]   # tiles are sorted by (x, y): so is key
    t_of = lambda x, y: np.searchsorted(key, x * (int(tiles[:, 1].max()) + 1) + y)  # noqa: E731
    g_pos = t_of(rx[pos], ry[pos]) * cpt + _slot_index(rx[pos], ry[pos], cpt)
    s_pos = t_of(bx[:n], by[:n]) * cpt + np.arange(n) % cpt
    costs = [hop_cost(traffic, sx[p], sy[p]) for p in (g_pos, s_pos)]
    start, start_name = (g_pos, "greedy") if costs[0] <= costs[1] else (s_pos, "sequential")
    with budget.phase("mesh.glb_bound"):
        glb = gilmore_lawler(sym, cpt)
    slot_bound = metric = None
    shape = (int(sx.max()) + 1, int(sy.max()) + 1)
    at_traffic = None
    # the search phases leave BOUND_RESERVE of the budget to the bounds (distance relaxation, LP)
    search = budget.sub(1.0 - BOUND_RESERVE) if n <= lp_max_cores else budget
    if n <= exact_max_cores:
        with budget.phase("mesh.exact"):
            pos, slot_bound, stats = _exact(sym, sx, sy, start, glb, search.sub(SHARES["exact"]), seed, num_workers)
        optimal = stats["status"] == "OPTIMAL"
        if not optimal:  # LNS from the exact model's best, then annealing over the same slots
            with budget.phase("mesh.lns"):
                pos, stats["lns"] = _lns(traffic, sym, sx, sy, pos, search.sub(SHARES["lns_small"]), seed,
                                         num_workers, small_window)
            with budget.phase("mesh.anneal"):
                pos, stats["anneal"] = _anneal_step(traffic, sym, sx, sy, pos, n, anneal_moves, seed,
                                                    search.sub(SHARES["anneal_small"]))
        if hop_cost(traffic, sx[pos], sy[pos]) > min(costs):
            pos = start
        if link_slack > 0 and n <= anneal_max_cores:
            with budget.phase("mesh.link_slack"):
                pos, stats["link_anneal"] = _link_slack_step(traffic, sx, sy, pos, n, link_slack, anneal_moves, seed,
                                                             search.sub(SHARES["link_slack"]))
        with budget.phase("mesh.links"):
            pos, moves = balance_links(traffic, sx, sy, pos, shape, link_evals, search)
            # lexicographic second phase: least max link load at (integer) hop-weighted traffic <= pos's
            pos, at_traffic, stats["links"] = _skip_if_spent(
                search, (pos, None, {"status": "SKIPPED (budget spent)"}), min_max_link_load, traffic,
                _int_traffic(sym), sx, sy, pos, search.limit_for(SHARES["links"]), seed, num_workers, budget=search)
        with budget.phase("mesh.metric_bound"):
            metric, stats["metric_status"] = _skip_if_spent(
                budget, (None, "SKIPPED (budget spent)"), metric_bound, sym, cpt, target.mesh_shape,
                budget.limit_for(SHARES["metric"]), seed, num_workers, sx[pos], sy[pos], budget=budget)
    else:
        pos, info = start, None
        if n <= anneal_max_cores:
            with budget.phase("mesh.anneal"):
                pos, info = _anneal_step(traffic, sym, sx, sy, pos, n, anneal_moves, seed,
                                         search.sub(SHARES["anneal_large"]))
        if n <= LNS_MAX_CORES:
            with budget.phase("mesh.lns"):
                pos, stats = _lns(traffic, sym, sx, sy, pos, search.sub(SHARES["lns_large"]), seed, num_workers,
                                  window)
        else:
            stats = {"lns": f"SKIPPED (> {LNS_MAX_CORES} cores: does not pay)"}
        if info is not None:
            stats["anneal"] = info
        if hop_cost(traffic, sx[pos], sy[pos]) > min(costs):
            pos = start
        if link_slack > 0 and n <= anneal_max_cores:
            with budget.phase("mesh.link_slack"):
                pos, stats["link_anneal"] = _link_slack_step(traffic, sx, sy, pos, n, link_slack, anneal_moves, seed,
                                                             search.sub(SHARES["link_slack"]))
        moves = 0
    with budget.phase("mesh.links"):
        pos, more = balance_links(traffic, sx, sy, pos, shape, link_evals, search)
    moves += more
    lp = None
    if n <= lp_max_cores:
        with budget.phase("mesh.lp_bound"):
            if budget.deterministic:
                lp, stats["lp"] = dispersion_lp_bound(sym, cpt, target.mesh_shape)
            elif not budget.expired():
                lp, stats["lp"] = dispersion_lp_bound(sym, cpt, target.mesh_shape, time_limit=budget.left(),
                                                      progress=lambda d, t: budget.report("mesh.lp_bound", d, t))
            else:
                stats["lp"] = {"status": "SKIPPED (budget spent)"}
    whole_board = len(tiles) == int(np.prod(target.mesh_shape))
    bound = max(b for b in (glb, metric, lp, slot_bound if whole_board else None) if b is not None)
    stats.update(start=start_name, greedy_objective=costs[0], sequential_objective=costs[1],
                 glb_bound=glb, metric_bound=metric, lp_bound=lp, slot_set_bound=slot_bound,
                 slot_set_is_board=whole_board, link_moves=moves)
    with budget.phase("mesh.link_bound"):
        return _placement(traffic, target, sx[pos], sy[pos], _slot_index(sx[pos], sy[pos], cpt), "cpsat", bound,
                          stats, at_traffic)


#: share of the budget left when a phase starts that the phase may use (:func:`place`)
SHARES = {"exact": 0.3, "lns_small": 0.45, "anneal_small": 0.3, "link_slack": 0.3, "links": 0.5, "metric": 0.5,
          "anneal_large": 0.7, "lns_large": 0.6}
#: share of the mesh budget kept for the bounds when there is an LP bound to compute
BOUND_RESERVE = 0.15
#: above this many cores the mesh LNS is skipped: measured on 411 cores (1 M synapses, bench/placer_budget.py)
#: 14 windows improved nothing after annealing, which lowered the hop-weighted traffic by 1-2 %
LNS_MAX_CORES = 128
#: largest core count whose LP bound runs under a deterministic budget (HiGHS has no deterministic stop)
DET_LP_MAX_CORES = 64


def _skip_if_spent(spent_budget, skipped, fn, *args, **kw):
    """``fn(*args, **kw)``, or ``skipped`` when ``spent_budget`` is spent."""
    return skipped if spent_budget.expired() else fn(*args, **kw)


def _anneal_step(traffic, sym, sx, sy, pos, n, moves_per_core, seed, budget):
    """:func:`~.anneal.anneal` with up to ``moves_per_core`` x n moves per chain (at most 10 M), 2 chains,
    within ``budget``."""
    before = hop_cost(traffic, sx[pos], sy[pos])
    iters = int(min(10_000_000, moves_per_core * n))
    if budget.expired():
        return pos, {"moves_per_chain": 0, "before": before, "after": before, "status": "SKIPPED (budget spent)"}
    pos, after = anneal(sym, sx, sy, pos, iters, seed, budget=budget)
    return pos, {"moves_per_chain": iters, "before": before, "after": after}


def _link_slack_step(traffic, sx, sy, pos, n, slack, moves_per_core, seed, budget):
    """:func:`~.anneal.anneal_links` with the hop-weighted traffic capped at (1 + slack) x pos's,
    ``moves_per_core`` / 5 x n moves (at most 2 M, and at most ``ANNEAL_VISITS_PER_UNIT`` / 50 per
    unit or second of ``budget`` left: its moves route every flow of the moved cores)."""
    before = hop_cost(traffic, sx[pos], sy[pos])
    shape = (int(sx.max()) + 1, int(sy.max()) + 1)
    peak_before = route(traffic, sx[pos], sy[pos], shape).max_link_load
    iters = int(min(2_000_000, moves_per_core // 5 * n, budget.left() * ANNEAL_VISITS_PER_UNIT / 50))
    budget.charge(50 * iters / ANNEAL_VISITS_PER_UNIT)
    pos, _ = anneal_links(traffic, sx, sy, pos, (1.0 + slack) * before, iters, seed)
    r = route(traffic, sx[pos], sy[pos], shape)
    return pos, {"slack": slack, "moves": iters, "traffic_before": before, "traffic_after": r.hop_weighted_traffic,
                 "peak_before": peak_before, "peak_after": r.max_link_load}


def _placement(traffic, target, tx, ty, slot, method, bound=None, stats=None, at_traffic=None) -> Placement:
    obj = hop_cost(traffic, tx, ty)
    gap = None if bound is None else (0.0 if obj <= 0 else max(0.0, (obj - bound) / obj))
    cpt = target.mesh.cores_per_tile
    hop_bound = bound if bound is not None else gilmore_lawler_of(traffic, cpt)
    links = link_load_bound(traffic, cpt, shape=target.mesh_shape, hop_bound=hop_bound)
    return Placement(np.asarray(tx, np.int64), np.asarray(ty, np.int64), np.asarray(slot, np.int64),
                     method, obj, bound, gap, links, at_traffic, stats or {})


#: Gilmore-Lawler bound (kept under its old name)
lower_bound = gilmore_lawler


def balance_links(traffic, sx, sy, pos, shape, max_evals: int, budget: Budget | None = None) -> tuple[np.ndarray, int]:
    """Lower the busiest link's load by slot swaps/moves that keep the hop-weighted traffic.

    Candidates: each core with traffic on the busiest directed link, swapped with every other
    slot within 2 hops (free or not), nearest first; a move is kept if the hop-weighted traffic
    does not rise and the maximum link load falls. At most ``max_evals`` evaluations
    (deterministic); with a wall-clock ``budget`` also stops when it is spent. Returns (positions, accepted moves).
    """
    t = sp.coo_matrix(traffic)
    keep = (t.data > 0) & (t.row != t.col)
    rows, cols, w = t.row[keep], t.col[keep], t.data[keep]
    n = traffic.shape[0]

    def score(p):
        east, west, north, south = link_loads(sp.coo_matrix((w, (rows, cols)), shape=(n, n)), sx[p], sy[p], shape)
        return hop_cost(traffic, sx[p], sy[p]), max(m.max(initial=0.0) for m in (east, west, north, south))

    max_evals = min(int(max_evals), int(4e6 // max(len(w), 1)))  # each evaluation routes every flow
    if max_evals <= 0:
        return pos, 0
    cost, peak = score(pos)
    evals = moves = 0
    wall = budget is not None and not budget.deterministic
    while evals < max_evals and peak > 0 and not (wall and budget.expired()):
        tx, ty = sx[pos], sy[pos]
        # cores whose flows cross a link carrying the peak load (XY: rows for x-links, columns for y-links)
        east, west, north, south = link_loads(sp.coo_matrix((w, (rows, cols)), shape=(n, n)), tx, ty, shape)
        hot = set()
        for arr, axis in ((east, "x"), (west, "x"), (north, "y"), (south, "y")):
            for a, b in zip(*np.nonzero(arr >= peak - 1e-12)):
                if axis == "x":  # link between (b, a) and (b+1, a): flows in row a spanning it
                    f = (ty[rows] == a) & (np.minimum(tx[rows], tx[cols]) <= b) & (np.maximum(tx[rows], tx[cols]) > b)
                else:            # link between (a, b) and (a, b+1): flows in column a spanning it
                    f = (tx[cols] == a) & (np.minimum(ty[rows], ty[cols]) <= b) & (np.maximum(ty[rows], ty[cols]) > b)
                hot.update(rows[f].tolist())
                hot.update(cols[f].tolist())
        slot_core = np.full(len(sx), -1, np.int64)
        slot_core[pos] = np.arange(n)
        improved = False
        for c in sorted(hot):
            d = np.abs(sx - sx[pos[c]]) + np.abs(sy - sy[pos[c]])
            for s in np.flatnonzero((d > 0) & (d <= 2))[np.argsort(d[(d > 0) & (d <= 2)], kind="stable")]:
                if evals >= max_evals or (wall and budget.expired()):
                    break
                new = pos.copy()
                other = slot_core[s]
                new[c] = s
                if other >= 0:
                    new[other] = pos[c]
                evals += 1
                nc, npk = score(new)
                if nc <= cost + 1e-9 and npk < peak - 1e-9:
                    pos, cost, peak = new, nc, npk
                    moves += 1
                    improved = True
                    break
            if improved or evals >= max_evals:
                break
        if not improved:
            break
    return pos, moves


def _slot_index(tx, ty, cpt) -> np.ndarray:
    """Core index within its tile (order of appearance)."""
    seen: dict[tuple[int, int], int] = {}
    out = np.empty(len(tx), np.int64)
    for i, key in enumerate(zip(tx.tolist(), ty.tolist())):
        out[i] = seen.get(key, 0)
        seen[key] = out[i] + 1
    assert out.max(initial=0) < cpt
    return out


def _region(n: int, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Slots (tile x, y per slot) of the most compact near-square tile rectangle holding n cores."""
    cpt = target.mesh.cores_per_tile
    nx, ny = target.mesh_shape
    tiles = -(-n // cpt)
    w = min(nx, max(1, int(np.ceil(np.sqrt(tiles)))))
    h = -(-tiles // w)
    if h > ny:
        w = -(-tiles // ny)
        h = -(-tiles // w)
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = np.repeat(xs.ravel(), cpt), np.repeat(ys.ravel(), cpt)
    return tx, ty


def _greedy(sym: sp.csr_matrix, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Slot index per core: repeatedly place the core most connected to placed ones, at its best slot."""
    n, m = sym.shape[0], len(sx)
    dense = sym.toarray()
    acc = np.zeros((n, m))          # acc[c, s] = cost of putting c at s given placed cores
    placed = np.zeros(n, bool)
    free = np.ones(m, bool)
    conn = np.zeros(n)
    pos = np.empty(n, np.int64)
    cx, cy = (sx.max() + sx.min()) / 2, (sy.max() + sy.min()) / 2
    centre = np.abs(sx - cx) + np.abs(sy - cy)
    for _ in range(n):
        cand = np.where(placed, -1.0, conn)
        c = int(np.argmax(cand)) if conn[~placed].max(initial=0) > 0 else int(
            np.flatnonzero(~placed)[np.argmax(dense[~placed].sum(1))])
        cost = np.where(free, acc[c] + 1e-9 * centre, np.inf)
        s = int(np.argmin(cost))
        pos[c], placed[c], free[s] = s, True, False
        acc += dense[:, c:c + 1] * (np.abs(sx - sx[s]) + np.abs(sy - sy[s]))[None, :]
        conn += dense[:, c]
    return pos


def _curve_greedy(sym: sp.csr_matrix, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Slot index per core for big meshes: cores in connection order (each next core has the most
    traffic to the ones already taken) laid along a Hilbert curve through the region's tiles."""
    n = sym.shape[0]
    csc = sym.tocsc()
    conn = np.zeros(n)
    taken = np.zeros(n, bool)
    order = np.empty(n, np.int64)
    total = np.asarray(sym.sum(1)).ravel()
    for k in range(n):
        free_conn = np.where(taken, -1.0, conn)
        c = int(np.argmax(free_conn)) if free_conn.max() > 0 else int(np.argmax(np.where(taken, -1.0, total)))
        order[k], taken[c] = c, True
        lo, hi = csc.indptr[c], csc.indptr[c + 1]
        conn[csc.indices[lo:hi]] += csc.data[lo:hi]
    side = 1 << int(np.ceil(np.log2(max(int(sx.max()), int(sy.max()), 1) + 1)))
    d = np.array([_hilbert(side, int(x), int(y)) for x, y in zip(sx, sy)])
    slots = np.lexsort((np.arange(len(sx)), d))
    pos = np.empty(n, np.int64)
    pos[order] = slots[:n]
    return pos


def _hilbert(side: int, x: int, y: int) -> int:
    """Index of tile (x, y) along the Hilbert curve filling a side x side square (side a power of 2)."""
    d, s = 0, side // 2
    while s > 0:
        rx, ry = int(x & s > 0), int(y & s > 0)
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = side - 1 - x, side - 1 - y
            x, y = y, x
        s //= 2
    return d


def _int_traffic(sym):
    t = sp.triu(sym, k=1).tocoo()
    scale = 1 if np.all(t.data == np.round(t.data)) else 1000
    return t.row, t.col, np.maximum(np.round(t.data * scale), 0).astype(np.int64), scale


def _solve_slots(sym, sx, sy, cores, slots, pos, time_limit, seed, num_workers, glb=False, edges=None, budget=None):
    """Re-assign ``cores`` to the slot set ``slots`` (others fixed). Returns (pos, status, obj, bound, det, scale).

    ``glb`` (all cores free only): add each core's Gilmore-Lawler cut (its weighted distance sum
    is at least its :func:`~.mesh_bounds.gilmore_lawler` term), which tightens CP-SAT's LP bound. ``edges``:
    :func:`_int_traffic` of ``sym`` if already computed. Edges with one end fixed become a
    (core x slot) cost table, so a window's model size does not grow with the mesh. ``time_limit``:
    wall seconds with a wall-clock ``budget``, else deterministic units (charged to ``budget``)."""
    rows, cols, w, scale = _int_traffic(sym) if edges is None else edges
    m = cp_model.CpModel()
    k = len(cores)
    b = [[m.NewBoolVar("") for _ in slots] for _ in cores]
    for i in range(k):
        m.AddExactlyOne(b[i])
    for j in range(len(slots)):
        m.AddAtMostOne(b[i][j] for i in range(k))
    X, Y = int(sx.max()) + 1, int(sy.max()) + 1
    xv = [m.NewIntVar(0, X, "") for _ in cores]
    yv = [m.NewIntVar(0, Y, "") for _ in cores]
    for i in range(k):
        m.Add(xv[i] == sum(int(sx[s]) * b[i][j] for j, s in enumerate(slots)))
        m.Add(yv[i] == sum(int(sy[s]) * b[i][j] for j, s in enumerate(slots)))
    obj = []
    inc = [[] for _ in cores]  # (weight, distance expr) per core, for the cuts
    win = np.full(sym.shape[0], -1, np.int64)
    win[np.asarray(cores, np.int64)] = np.arange(k)
    both = (w > 0) & (win[rows] >= 0) & (win[cols] >= 0)
    for r, c, wt in zip(win[rows[both]], win[cols[both]], w[both]):
        dx, dy = m.NewIntVar(0, X, ""), m.NewIntVar(0, Y, "")
        m.AddAbsEquality(dx, xv[r] - xv[c])
        m.AddAbsEquality(dy, yv[r] - yv[c])
        obj.append(int(wt) * (dx + dy))
        inc[r].append(int(wt) * (dx + dy))
        inc[c].append(int(wt) * (dx + dy))
    one = (w > 0) & ((win[rows] >= 0) ^ (win[cols] >= 0))  # one end fixed: linear in the slot
    mov = np.where(win[rows[one]] >= 0, win[rows[one]], win[cols[one]])
    fix = np.where(win[rows[one]] >= 0, cols[one], rows[one])
    dist = (np.abs(sx[slots][None, :] - sx[pos[fix]][:, None]) + np.abs(sy[slots][None, :] - sy[pos[fix]][:, None]))
    cost = np.zeros((k, len(slots)), np.int64)
    np.add.at(cost, mov, w[one][:, None] * dist)
    obj += [int(cost[i, j]) * b[i][j] for i in range(k) for j in range(len(slots)) if cost[i, j]]
    if glb:
        cpt = int(np.max(np.unique(np.stack([sx, sy], 1), axis=0, return_counts=True)[1]))
        full = sp.coo_matrix((w.astype(float), (rows, cols)), shape=sym.shape)
        full = (full + full.T).tocsr()
        for i, c in enumerate(cores):
            need = core_cut(full[int(c)].data, cpt)
            if need > 0 and inc[i]:
                m.Add(sum(inc[i]) >= int(np.ceil(need - 1e-9)))
    m.Minimize(sum(obj))
    slot_j = {int(s): j for j, s in enumerate(slots)}
    for i, c in enumerate(cores):
        for j in range(len(slots)):
            m.AddHint(b[i][j], int(j == slot_j.get(int(pos[c]), -1)))
    solver = make_solver(time_limit, seed, num_workers, budget=budget)
    status = solver.Solve(m)
    det = solver.response_proto.deterministic_time
    if budget is not None:
        budget.charge(det)
    if not solved(status):
        return None, status, None, None, det, scale
    new = pos.copy()
    for i, c in enumerate(cores):
        new[c] = slots[next(j for j in range(len(slots)) if solver.BooleanValue(b[i][j]))]
    return new, status, solver.ObjectiveValue(), solver.BestObjectiveBound(), det, scale


def _exact(sym, sx, sy, pos, glb, budget, seed, num_workers):
    """All cores on the slot set in one model (hinted with ``pos``). Returns (pos, bound, stats);
    the bound is for placements on these slots, lowered by the worst case of rounding the
    traffic to integers (0.5 / scale per link) so it holds for the unrounded traffic."""
    n = sym.shape[0]
    if budget.expired():
        return pos, None, {"status": "SKIPPED (budget spent)"}
    new, status, obj, bound, det, scale = _solve_slots(sym, sx, sy, np.arange(n), np.arange(len(sx)),
                                                       pos, budget.left(), seed, num_workers, glb=True, budget=budget)
    stats = {"status": status_name(status), "deterministic_time": det}
    if new is None:
        return pos, None, stats
    slack = 0.0 if scale == 1 else 0.5 * sp.triu(sym, k=1).nnz / scale
    return new, max(0.0, bound / scale - slack), stats


def _lns(traffic, sym, sx, sy, pos, budget, seed, num_workers, window):
    """Windows: a core, its heaviest partners and the cores on nearby slots, permuted among their slots.

    Stops when ``budget`` is spent; a deterministic budget of ``U`` units also caps it at ``20 U + 10``
    windows."""
    time_limit = budget.limit
    n = sym.shape[0]
    edges = _int_traffic(sym)
    t = sp.coo_matrix(traffic)
    er, ec, ew = t.row, t.col, t.data
    slot_core = np.full(len(sx), -1, np.int64)
    slot_core[pos] = np.arange(n)
    tried, improved = 0, 0
    rng = np.random.default_rng(seed)
    per = max(0.2, min(2.0, time_limit / 20))
    max_windows = int(20 * time_limit) + 10 if budget.deterministic else np.inf
    stall = 0
    while not budget.expired() and stall < 2 * n and tried < max_windows:
        c0 = int(rng.integers(n))
        d = np.abs(sx - sx[pos[c0]]) + np.abs(sy - sy[pos[c0]])
        near = [int(s) for s in np.argsort(d, kind="stable")[: window]]
        lo, hi = sym.indptr[c0], sym.indptr[c0 + 1]
        partners = sym.indices[lo:hi][np.lexsort((sym.indices[lo:hi], -sym.data[lo:hi]))][: window // 2]
        cores = sorted({int(slot_core[s]) for s in near if slot_core[s] >= 0}
                       | set(partners.tolist()) | {c0})[: window + window // 2]
        slots = np.array(sorted(set(near) | {int(pos[c]) for c in cores}))
        new, status, obj, bound, det, scale = _solve_slots(sym, sx, sy, np.array(cores), slots, pos,
                                                           min(per, budget.left()), seed + tried, num_workers,
                                                           edges=edges, budget=budget)
        tried += 1
        budget.report("mesh.lns", int(1000 * (1 - budget.left() / max(time_limit, 1e-9))), 1000)
        if new is not None:
            moved = np.zeros(n, bool)
            moved[cores] = True
            e = moved[er] | moved[ec]
            old_c = ew[e] @ (np.abs(sx[pos[er[e]]] - sx[pos[ec[e]]]) + np.abs(sy[pos[er[e]]] - sy[pos[ec[e]]]))
            new_c = ew[e] @ (np.abs(sx[new[er[e]]] - sx[new[ec[e]]]) + np.abs(sy[new[er[e]]] - sy[new[ec[e]]]))
            if new_c < old_c - 1e-9:
                pos = new
                slot_core[:] = -1
                slot_core[pos] = np.arange(n)
                improved += 1
                stall = 0
                continue
        stall += 1
    return pos, {"windows_tried": tried, "windows_improved": improved, "budget_used": time_limit - budget.left()}
