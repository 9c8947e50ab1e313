"""Lexicographic max-link-load phase (neuromap/placement/mesh_links.py) against brute force."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from neuromap.placement.mesh import _int_traffic, balance_links, place
from neuromap.placement.mesh_links import max_link_load, min_max_link_load
from neuromap.placement.routing import route
from neuromap.targets import load_target
from tests.helpers.placement import random_traffic


def _target(tx, ty, cpt=1):
    t = load_target("loihi")
    return dataclasses.replace(t, mesh=dataclasses.replace(t.mesh, cores_per_tile=cpt, tiles_x=tx,
                                                           tiles_y=ty, chips_x=1, chips_y=1))


def _slots(tx, ty, cpt=1):
    return np.repeat(np.tile(np.arange(tx), ty), cpt), np.repeat(np.repeat(np.arange(ty), tx), cpt)


def _brute(traffic, n, tx, ty):
    """(hop cost, max directed link load under XY routing) of every placement (slot per core)."""
    sx, sy = _slots(tx, ty)
    perms = np.array(list(itertools.permutations(range(len(sx)), n)), np.int64)
    X, Y = sx[perms], sy[perms]
    t = sp.coo_matrix(traffic)
    hops = (np.abs(X[:, t.row] - X[:, t.col]) + np.abs(Y[:, t.row] - Y[:, t.col])) @ t.data
    peak = np.zeros(len(perms))
    for r in range(ty):  # x links in row r: flows from that row (source row), both directions
        for c in range(tx - 1):
            east = sum(w * ((Y[:, a] == r) & (X[:, a] <= c) & (X[:, b] > c)) for a, b, w in zip(t.row, t.col, t.data))
            west = sum(w * ((Y[:, a] == r) & (X[:, b] <= c) & (X[:, a] > c)) for a, b, w in zip(t.row, t.col, t.data))
            peak = np.maximum(peak, np.maximum(east, west))
    for c in range(tx):  # y links in column c: flows into that column (destination column)
        for r in range(ty - 1):
            north = sum(w * ((X[:, b] == c) & (Y[:, a] <= r) & (Y[:, b] > r)) for a, b, w in zip(t.row, t.col, t.data))
            south = sum(w * ((X[:, b] == c) & (Y[:, b] <= r) & (Y[:, a] > r)) for a, b, w in zip(t.row, t.col, t.data))
            peak = np.maximum(peak, np.maximum(north, south))
    return perms, hops, peak


def _traffic(seed, n, density=0.5, high=4, scale=1.0):
    return random_traffic(np.random.default_rng(seed), n, density, high) * scale


def test_brute_force_routing_matches_link_loads():
    traffic = _traffic(0, 5)
    perms, _, peak = _brute(traffic, 5, 3, 2)
    sx, sy = _slots(3, 2)
    for k in (0, 17, 300):
        assert peak[k] == pytest.approx(route(traffic, sx[perms[k]], sy[perms[k]], (3, 2)).max_link_load)


@pytest.mark.parametrize("seed,n,tx,ty", [(0, 6, 3, 2), (1, 5, 3, 2), (2, 6, 3, 3), (3, 6, 3, 3)])
def test_least_peak_among_hop_optimal_placements(seed, n, tx, ty):
    traffic = _traffic(seed, n)
    _, hops, peak = _brute(traffic, n, tx, ty)
    best = hops.min()
    least = peak[hops <= best + 1e-9].min()
    p = place(traffic, _target(tx, ty), "cpsat", time_limit=10.0)
    r = route(traffic, p.tile_x, p.tile_y, (tx, ty))
    assert p.objective == pytest.approx(best)
    assert p.stats["links"]["status"] == "OPTIMAL"
    assert r.max_link_load == pytest.approx(least)
    assert p.link_load_bound_at_traffic == pytest.approx(least, abs=1e-6)  # optimal: bound = value
    assert p.link_load_bound <= least + 1e-9


@pytest.mark.parametrize("seed", [1, 5])
def test_from_the_worst_hop_optimal_start_the_phase_reaches_the_least_peak(seed):
    # start from the hop-optimal placement with the highest peak; the phase never raises the hops
    traffic = _traffic(seed, 6, scale=0.01)  # float traffic: integer units x1000
    perms, hops, peak = _brute(traffic, 6, 3, 2)
    opt = hops <= hops.min() + 1e-9
    worst = np.flatnonzero(opt)[np.argmax(peak[opt])]
    least = peak[opt].min()
    assert peak[worst] > least + 1e-9  # the instance has a choice to make
    sx, sy = _slots(3, 2)
    sym = (traffic + traffic.T).tocsr()
    new, bound, stats = min_max_link_load(traffic, _int_traffic(sym), sx, sy, perms[worst], 5.0)
    assert stats["status"] == "OPTIMAL"
    assert route(traffic, sx[new], sy[new], (3, 2)).hop_weighted_traffic <= hops[worst] + 1e-9
    assert max_link_load(traffic, sx[new], sy[new]) == pytest.approx(least)
    assert bound <= least + 1e-9 and bound == pytest.approx(least, abs=1e-6)


def test_phase_beats_the_swap_pass_where_swaps_get_stuck():
    # seed 20 on 3x2: from the worst hop-optimal placement, hop-preserving swaps/moves stall above the
    # least peak; the exact phase reaches it
    traffic = _traffic(20, 6)
    perms, hops, peak = _brute(traffic, 6, 3, 2)
    opt = hops <= hops.min() + 1e-9
    worst = np.flatnonzero(opt)[np.argmax(peak[opt])]
    sx, sy = _slots(3, 2)
    swapped, _ = balance_links(traffic, sx, sy, perms[worst].copy(), (3, 2), 400)
    exact, _, _ = min_max_link_load(traffic, _int_traffic((traffic + traffic.T).tocsr()), sx, sy, perms[worst], 5.0)
    assert max_link_load(traffic, sx[exact], sy[exact]) == pytest.approx(peak[opt].min())
    assert max_link_load(traffic, sx[swapped], sy[swapped]) > peak[opt].min() + 1e-9


def test_shared_tiles_and_determinism():
    # 7 cores, 2 per tile, on a 3x2 board: same inputs, same placement and stats; the bound at this
    # traffic is at most the achieved peak; at most 2 cores a tile
    traffic = _traffic(5, 7, density=0.6)
    a = place(traffic, _target(3, 2, cpt=2), "cpsat", time_limit=4.0)
    b = place(traffic, _target(3, 2, cpt=2), "cpsat", time_limit=4.0)
    assert np.array_equal(a.tile_x, b.tile_x) and np.array_equal(a.tile_y, b.tile_y)
    assert np.array_equal(a.slot, b.slot) and a.stats == b.stats
    peak = route(traffic, a.tile_x, a.tile_y, (3, 2)).max_link_load
    assert a.link_load_bound_at_traffic <= peak + 1e-9
    _, counts = np.unique(np.stack([a.tile_x, a.tile_y], 1), axis=0, return_counts=True)
    assert counts.max() <= 2
