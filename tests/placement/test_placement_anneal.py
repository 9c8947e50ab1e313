"""Simulated-annealing polish of slot assignments (neuromap/placement/anneal.py)."""
from __future__ import annotations

import numpy as np

from neuromap.placement.anneal import anneal
from neuromap.placement.mesh import hop_cost
from tests.helpers.placement import brute_force_hops, mesh_target, random_traffic, tile_slots


def test_anneal_reaches_the_brute_forced_optimum_and_is_deterministic():
    sx, sy = tile_slots(3, 3, 1)
    for seed in range(3):
        traffic = random_traffic(np.random.default_rng(seed), 7)
        opt = brute_force_hops(traffic, 7, 1, 3, 3)
        start = np.arange(7)
        pos, cost = anneal(traffic + traffic.T, sx, sy, start, 200_000, seed=seed)
        assert len(set(pos.tolist())) == 7 and np.all((pos >= 0) & (pos < 9))
        assert abs(cost - hop_cost(traffic, sx[pos], sy[pos])) < 1e-9
        assert abs(cost - opt) < 1e-9
        again, _ = anneal(traffic + traffic.T, sx, sy, start, 200_000, seed=seed)
        assert np.array_equal(pos, again)


def test_anneal_never_returns_worse_and_respects_tile_sharing():
    sx, sy = tile_slots(3, 2, 2)
    traffic = random_traffic(np.random.default_rng(4), 6, high=9)
    start = np.array([0, 2, 4, 6, 8, 10])
    before = hop_cost(traffic, sx[start], sy[start])
    pos, cost = anneal(traffic + traffic.T, sx, sy, start, 50, seed=1)  # too short to anneal well
    assert cost <= before + 1e-9 and len(set(pos.tolist())) == 6
    pos, cost = anneal(traffic + traffic.T, sx, sy, start, 100_000, seed=1)
    assert abs(cost - brute_force_hops(traffic, 6, 2, 3, 2)) < 1e-9


def test_place_anneals_above_the_exact_size_deterministically():
    from neuromap.placement.mesh import place
    traffic = random_traffic(np.random.default_rng(8), 14, density=0.3)
    t = mesh_target(2, 4, 4)
    a = place(traffic, t, "cpsat", time_limit=1.0, exact_max_cores=6)
    b = place(traffic, t, "cpsat", time_limit=1.0, exact_max_cores=6)
    assert a.stats["anneal"]["after"] <= a.stats["anneal"]["before"] + 1e-9
    assert a.objective <= a.stats["anneal"]["after"] + 1e-9  # LNS runs after it and never worsens
    assert np.array_equal(a.tile_x, b.tile_x) and np.array_equal(a.tile_y, b.tile_y)


def test_anneal_links_finds_the_least_peak_under_the_traffic_cap():
    import itertools
    from neuromap.placement.anneal import anneal_links
    from neuromap.placement.routing import route
    sx, sy = tile_slots(3, 2, 1)
    for seed in range(3):
        traffic = random_traffic(np.random.default_rng(30 + seed), 6, density=0.5, high=6)
        perms = np.array(list(itertools.permutations(range(6))))
        hops = np.array([hop_cost(traffic, sx[p], sy[p]) for p in perms])
        peaks = np.array([route(traffic, sx[p], sy[p], (3, 2)).max_link_load for p in perms])
        start = perms[int(np.argmin(hops))]
        cap = 1.15 * hops.min()
        pos, peak = anneal_links(traffic, sx, sy, start, cap, 30_000, seed=seed)
        got = route(traffic, sx[pos], sy[pos], (3, 2))
        assert got.hop_weighted_traffic <= cap + 1e-9
        assert abs(got.max_link_load - peak) < 1e-9
        assert abs(peak - peaks[hops <= cap + 1e-9].min()) < 1e-9  # the least peak under the cap
        assert len(set(pos.tolist())) == 6
