"""Mesh-placement lower bounds (neuromap/placement/mesh_bounds.py) against brute-forced optima."""
from __future__ import annotations


import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from neuromap.placement.mesh import place
from neuromap.placement.mesh_bounds import gilmore_lawler, link_load_bound, metric_bound
from neuromap.placement.routing import route
from tests.helpers.placement import all_placements, brute_force_hops, mesh_target, random_traffic


def test_bounds_below_brute_force_and_exact_finds_optimum():
    # 7 cores on a 3x3 board (the candidate slots are the whole board, so the exact model's bound counts)
    for seed in range(3):
        traffic = random_traffic(np.random.default_rng(seed), 7)
        sym = traffic + traffic.T
        opt = brute_force_hops(traffic, 7, 1, 3, 3)
        p = place(traffic, mesh_target(1, 3, 3), "cpsat", time_limit=10.0, seed=0)
        assert gilmore_lawler(sym, 1) <= opt + 1e-9
        mb, status = metric_bound(sym, 1, (3, 3), 5.0)
        assert mb <= opt + 1e-9 and status in ("OPTIMAL", "FEASIBLE")
        assert p.bound <= opt + 1e-9 <= p.objective + 2e-9
        assert p.objective == opt and p.gap == 0.0 and p.stats["slot_set_is_board"]


def test_metric_bound_valid_on_a_bigger_board_with_shared_tiles():
    # 6 cores, 2 per tile, 3x2 board: bounds against the optimum over every placement
    for seed in range(3):
        traffic = random_traffic(np.random.default_rng(10 + seed), 6, high=9)
        sym = traffic + traffic.T
        opt = brute_force_hops(traffic, 6, 2, 3, 2)
        mb, _ = metric_bound(sym, 2, (3, 2), 5.0)
        assert gilmore_lawler(sym, 2) <= opt + 1e-9
        assert mb <= opt + 1e-9
        p = place(traffic, mesh_target(2, 3, 2), "cpsat", time_limit=5.0)
        assert p.bound <= opt + 1e-9 <= p.objective + 2e-9


def test_metric_bound_is_tight_on_a_triangle_where_gilmore_lawler_is_not():
    # unit traffic 0-1, 1-2, 0-2, one core per tile: three tiles cannot be pairwise adjacent
    # (parity), so the optimum is 1 + 1 + 2 = 4; Gilmore-Lawler puts every partner at 1 hop: 3.
    tri = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 1, 0], [1, 2, 2])), shape=(3, 3))
    sym = tri + tri.T
    assert gilmore_lawler(sym, 1) == 3.0
    assert metric_bound(sym, 1, (8, 8), 5.0) == (4.0, "OPTIMAL")
    assert brute_force_hops(tri, 3, 1, 3, 3) == 4.0


def test_link_load_bound_hand_computed_star():
    # core 0 sends 2 packets/step to each of 4 cores, one core per tile: its tile's traffic (8)
    # leaves through at most 4 links, so some link carries >= 2; the plus shape achieves 2.
    star = sp.csr_matrix(([2.0] * 4, ([0] * 4, [1, 2, 3, 4])), shape=(5, 5))
    assert link_load_bound(star, 1) == 2.0
    r = route(star, np.array([1, 0, 2, 1, 1]), np.array([1, 1, 1, 0, 2]), (3, 3))
    assert r.max_link_load == 2.0
    # with 4 cores a tile, core 0 can share its tile with 3 of them: 2 packets leave, 0.5 per link
    assert link_load_bound(star, 4) == 0.5


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 2))
def test_link_load_bound_below_brute_force(seed, cpt):
    rng = np.random.default_rng(seed)
    n, tx, ty = 5, 3, 2
    traffic = random_traffic(rng, n, 0.5)
    X, Y = all_placements(n, cpt, tx, ty)
    step = 1 if cpt == 1 else 37  # cpt 2: every 37th of the 95040 placements
    best = min(route(traffic, x, y, (tx, ty)).max_link_load for x, y in zip(X[::step], Y[::step]))
    assert link_load_bound(traffic, cpt) <= best + 1e-9
    hops = gilmore_lawler(traffic + traffic.T, cpt)
    assert link_load_bound(traffic, cpt, shape=(tx, ty), hop_bound=hops) <= best + 1e-9
    assert link_load_bound(traffic, cpt, max_groups=0) <= link_load_bound(traffic, cpt) + 1e-9


def test_link_load_bound_spreads_the_hop_bound_over_the_board_links():
    # 3 packets/step from core 0 to core 1 on a 2x1 board, one core per tile: at least 3 hops
    # of traffic over 2 directed links -> 1.5 (the tile-exit bound alone gives 3 / 4)
    pair = sp.csr_matrix(([3.0], ([0], [1])), shape=(2, 2))
    assert link_load_bound(pair, 1) == 0.75
    assert link_load_bound(pair, 1, shape=(2, 1), hop_bound=gilmore_lawler(pair + pair.T, 1)) == 1.5
    p = place(pair, mesh_target(1, 2, 1), "sequential")
    assert p.link_load_bound == 1.5
    assert route(pair, p.tile_x, p.tile_y, (2, 1)).max_link_load == 3.0


def test_small_instance_lns_path_is_deterministic_and_never_worse_than_greedy():
    # 16 cores, 2 per tile, a tiny time limit: the exact model is not proven optimal, so the LNS
    # windows run (stats["lns"]); two runs give the same positions; tiles hold <= 2 cores
    rng = np.random.default_rng(5)
    traffic = random_traffic(rng, 16, 0.3, 9)
    t = mesh_target(2, 8, 8)
    a, b = (place(traffic, t, "cpsat", time_limit=0.3, seed=3) for _ in range(2))
    assert "lns" in a.stats and a.stats["status"] != "OPTIMAL"
    assert np.array_equal(a.tile_x, b.tile_x) and np.array_equal(a.tile_y, b.tile_y)
    assert a.objective <= place(traffic, t, "greedy").objective
    _, counts = np.unique(np.stack([a.tile_x, a.tile_y], 1), axis=0, return_counts=True)
    assert counts.max() <= 2 and a.bound <= a.objective
