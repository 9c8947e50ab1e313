"""LP placement bound with dispersion cuts (neuromap/placement/mesh_lp.py) against brute force."""
from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from neuromap.placement.mesh import place
from neuromap.placement.mesh_bounds import gilmore_lawler
from neuromap.placement.mesh_lp import dispersion_lp_bound, dispersion_minimum, star_minimum, wiener_minimum
from tests.helpers.placement import brute_force_hops, mesh_target, random_traffic


def _box(b):
    return [(x, y) for x in range(b) for y in range(b)]


def _pair_sum(points):
    return sum(abs(a - c) + abs(b - d) for (a, b), (c, d) in itertools.combinations(points, 2))


def test_wiener_minimum_exact_to_six_points_and_a_lower_bound_beyond():
    for q in range(1, 10):
        brute = min(_pair_sum(s) for s in itertools.combinations(_box(4), q))
        if q <= 6:
            assert wiener_minimum(q) == brute, q
        else:
            assert wiener_minimum(q) <= brute, q
    assert wiener_minimum(7) == 36  # the margin bound; the true least sum is 38


def test_dispersion_minimum_against_every_filling_of_a_small_box():
    for cpt in (1, 2, 3, 4):
        cells = _box(3)
        for s in range(2, 10):
            best = np.inf
            for counts in itertools.product(range(cpt + 1), repeat=len(cells)):
                if sum(counts) != s:
                    continue
                pts = [c for c, k in zip(cells, counts) for _ in range(k)]
                best = min(best, _pair_sum(pts))
            q, r = divmod(s, cpt)
            assert dispersion_minimum(s, cpt) <= best, (cpt, s)
            if q + (r > 0) <= 6 and s <= 9:  # exact Wiener values and the optimum fits the 3x3 box
                assert dispersion_minimum(s, cpt) == best, (cpt, s)


def test_star_minimum_counts_slots_by_distance():
    assert [star_minimum(k, 1) for k in (1, 4, 5, 12, 13)] == [1, 4, 6, 20, 23]
    assert [star_minimum(k, 4) for k in (3, 4, 19, 20)] == [0, 1, 16, 18]


def test_lp_bound_is_tight_on_a_triangle_where_gilmore_lawler_is_not():
    tri = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 1, 0], [1, 2, 2])), shape=(3, 3))
    sym = tri + tri.T
    bound, stats = dispersion_lp_bound(sym, 1, (8, 8))
    assert gilmore_lawler(sym, 1) == 3.0
    assert abs(bound - 4.0) < 1e-7 and stats["rounds"] >= 1


def test_lp_bound_below_brute_force_on_whole_boards():
    for seed in range(3):
        traffic = random_traffic(np.random.default_rng(seed), 7)
        sym = traffic + traffic.T
        opt = brute_force_hops(traffic, 7, 1, 3, 3)
        bound, _ = dispersion_lp_bound(sym, 1, (3, 3))
        assert gilmore_lawler(sym, 1) - 1e-7 <= bound <= opt + 1e-9
    for seed in range(3):
        traffic = random_traffic(np.random.default_rng(10 + seed), 6, high=9)
        sym = traffic + traffic.T
        opt = brute_force_hops(traffic, 6, 2, 3, 2)
        bound, _ = dispersion_lp_bound(sym, 2, (3, 2))
        assert gilmore_lawler(sym, 2) - 1e-7 <= bound <= opt + 1e-9


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 5), cpt=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
       density=st.floats(0.2, 1.0), heavy=st.booleans(), pairs=st.sampled_from(["all", "traffic"]))
def test_lp_bound_never_exceeds_the_optimum(n, cpt, seed, density, heavy, pairs):
    rng = np.random.default_rng(seed)
    traffic = random_traffic(rng, n, density=density, high=50 if heavy else 4)
    traffic = traffic * rng.uniform(0.1, 1.0)  # fractional packets per step
    tx, ty = (3, 3) if cpt == 1 else (3, 2) if n > 2 * cpt else (2, 2)
    if n > cpt * tx * ty:
        return
    opt = brute_force_hops(traffic, n, cpt, tx, ty)
    bound, _ = dispersion_lp_bound(traffic + traffic.T, cpt, (tx, ty), pairs=pairs)
    assert bound <= opt + 1e-7


def test_place_reports_the_lp_bound_and_uses_it():
    rng = np.random.default_rng(5)
    traffic = random_traffic(rng, 12, density=0.5)
    p = place(traffic, mesh_target(2, 4, 4), "cpsat", time_limit=2.0)
    lp = p.stats["lp_bound"]
    assert lp is not None and p.stats["lp"]["rounds"] >= 1
    assert p.bound >= lp - 1e-12 and p.bound >= p.stats["glb_bound"]
    assert p.bound <= p.objective + 1e-9
    again = place(traffic, mesh_target(2, 4, 4), "cpsat", time_limit=2.0)
    assert again.stats["lp_bound"] == lp  # deterministic


def test_lp_bound_with_few_seeds_and_few_triangles_per_round_stays_valid():
    # the separation limits used on bigger instances change how fast the LP rises, never validity
    for seed in range(2):
        traffic = random_traffic(np.random.default_rng(20 + seed), 7)
        sym = traffic + traffic.T
        opt = brute_force_hops(traffic, 7, 1, 3, 3)
        full, _ = dispersion_lp_bound(sym, 1, (3, 3))
        lean, stats = dispersion_lp_bound(sym, 1, (3, 3), seeds_per_core=1, triangles_per_round=3,
                                          cuts_per_round=2, stall=0.0)
        assert lean <= opt + 1e-9 and full <= opt + 1e-9
        assert stats["converged"] and abs(lean - full) < 1e-6  # converged: the same LP optimum


def test_lp_bound_on_a_forty_core_instance_beats_gilmore_lawler_and_stays_below_a_placement():
    rng = np.random.default_rng(3)
    # a ring of 40 cores with local traffic plus a few long links: geometry matters
    n = 40
    rows = np.r_[np.arange(n), np.arange(n), rng.integers(0, n, 10)]
    cols = np.r_[(np.arange(n) + 1) % n, (np.arange(n) + 2) % n, rng.integers(0, n, 10)]
    keep = rows != cols
    traffic = sp.csr_matrix((rng.uniform(0.5, 2.0, keep.sum()), (rows[keep], cols[keep])), shape=(n, n))
    p = place(traffic, mesh_target(4, 8, 8), "cpsat", time_limit=2.0)
    assert "anneal" in p.stats and p.stats["lp_bound"] is not None
    assert p.stats["glb_bound"] < p.stats["lp_bound"] <= p.objective + 1e-9
    assert p.objective <= p.stats["greedy_objective"] + 1e-9


def test_traffic_pairs_lp_on_a_long_ring_beats_gilmore_lawler_and_stays_below_a_snake():
    # 120 cores in a ring (each to its next two), one per tile: laid as a snake through a 12 x 10
    # block every neighbour is 1 hop away except at the turns, so the snake's cost bounds the optimum
    n = 120
    rows = np.r_[np.arange(n), np.arange(n)]
    cols = np.r_[(np.arange(n) + 1) % n, (np.arange(n) + 2) % n]
    traffic = sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n))
    x = np.array([k % 12 if (k // 12) % 2 == 0 else 11 - k % 12 for k in range(n)])
    y = np.arange(n) // 12
    snake = float(sum(abs(x[a] - x[b]) + abs(y[a] - y[b]) for a, b in zip(rows, cols)))
    sym = traffic + traffic.T
    bound, stats = dispersion_lp_bound(sym, 1, (64, 64))  # above 64 cores: traffic pairs only
    assert stats["rounds"] >= 2
    assert gilmore_lawler(sym, 1) < bound <= snake
