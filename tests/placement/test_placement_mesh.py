"""Mesh placement, XY routing and energy: brute-force optimum, hand-computed routes and energies."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import scipy.sparse as sp

from neuromap.placement.energy import estimate
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.mesh import (_hilbert, _region, balance_links, board_slots, hop_cost, lower_bound,
                                     place)
from neuromap.placement.report import place_graph
from neuromap.placement.routing import link_loads, route
from neuromap.placement.verify import verify_graph
from neuromap.targets import load_target
from tests.helpers.placement import random_traffic


def _grid_target(cpt=1, tx=3, ty=2):
    t = load_target("loihi")
    return dataclasses.replace(t, mesh=dataclasses.replace(t.mesh, cores_per_tile=cpt, tiles_x=tx,
                                                           tiles_y=ty, chips_x=1, chips_y=1))


def test_xy_route_hand_computed():
    # core 0 at (0,0) sends 3 packets/step to core 1 at (2,1); core 2 at (1,0) sends 1 to core 1
    t = sp.csr_matrix(([3.0, 1.0], ([0, 2], [1, 1])), shape=(3, 3))
    r = route(t, np.array([0, 2, 1]), np.array([0, 1, 0]), (3, 2))
    assert r.hop_weighted_traffic == 3 * 3 + 1 * 2
    assert (r.x_hop_traffic, r.y_hop_traffic) == (3 * 2 + 1, 3 + 1)
    assert r.max_link_load == 4.0  # link (1,0)->(2,0) carries both flows; then (2,0)->(2,1) too
    assert r.max_hops == 3 and r.local_packets == 0 and r.mean_hops == 11 / 4


def test_board_order_is_chip_by_chip_row_major():
    t = load_target("loihi")
    x, y = board_slots(t)
    assert (x[:5].tolist(), y[:5].tolist()) == ([0, 0, 0, 0, 1], [0, 0, 0, 0, 0])
    assert (x[4 * 8], y[4 * 8]) == (0, 1)          # second tile row of chip 0
    assert (x[128], y[128]) == (8, 0)              # chip 1 starts right of chip 0


def test_cpsat_placement_matches_brute_force():
    n = 5
    traffic = random_traffic(np.random.default_rng(2), n, density=0.6, high=5)
    t = _grid_target()
    p = place(traffic, t, "cpsat", time_limit=5.0)
    sx, sy = _region(n, t)
    best = min(hop_cost(traffic, sx[list(s)], sy[list(s)]) for s in itertools.permutations(range(len(sx)), n))
    assert p.objective == best
    assert p.stats["status"] == "OPTIMAL" and p.gap == 0.0
    g = place(traffic, t, "greedy")
    assert p.objective <= g.objective
    assert len({(a, b, c) for a, b, c in zip(p.tile_x, p.tile_y, p.slot)}) == n


def test_energy_hand_computed():
    # 2 neurons on 2 cores of tiles (0,0) and (1,0); neuron 0 spikes 0.5/step onto neuron 1 (plastic)
    t = _grid_target()
    g = SynapseGraph.from_arrays(2, [0], [1], plastic=[True])
    rates = np.array([0.5, 0.0])
    core_of = np.array([0, 1])
    r = route(sp.csr_matrix(([0.5], ([0], [1])), shape=(2, 2)), np.array([0, 1]), np.array([0, 0]))
    est = estimate(g, core_of, rates, r, t)
    e = t.energy
    p_active = 1 - np.exp(-0.5)
    expect = (0.5 * e.synaptic_op_pj + 0.5 * e.hop_x_pj + 0.5 * e.plasticity_update_pj
              + p_active * e.neuron_update_active_pj + (2 - p_active) * e.neuron_update_inactive_pj)
    assert np.isclose(est.energy_pj, expect)
    lat = t.latency
    core1 = 0.5 * lat.synaptic_op_ns + p_active * lat.neuron_update_active_ns + \
        (1 - p_active) * lat.neuron_update_inactive_ns + 0.5 * lat.plasticity_update_ns
    assert np.isclose(est.latency_ns, core1 + lat.tile_spike_ns + lat.hop_x_ns + lat.barrier_sync_ns)


def test_place_graph_report_and_determinism():
    rng = np.random.default_rng(0)
    n = 300
    perm = rng.permutation(n)
    src = np.repeat(np.arange(n), 6)
    dst = (src + np.tile([-3, -2, -1, 1, 2, 3], n)) % n
    g = SynapseGraph.from_arrays(n, perm[src], perm[dst])
    t = load_target("loihi")
    t = dataclasses.replace(t, core=dataclasses.replace(t.core, max_neurons=20))
    res = [place_graph(g, t, "cpsat", time_limit=1.0, seed=1) for _ in range(2)]
    assert np.array_equal(res[0].assignment.core_of, res[1].assignment.core_of)
    assert np.array_equal(res[0].placement.tile_x, res[1].placement.tile_x)
    rep = res[0].report
    assert verify_graph(g, res[0].assignment.core_of, t) == []
    assert rep.hop_weighted_traffic < rep.sequential_hop_weighted_traffic
    assert rep.energy_pj_per_step > 0 and rep.max_link_load > 0


def test_lower_bound_hand_computed_and_below_brute_force():
    # star: core 0 sends 4, 3, 2, 1 packets/step to cores 1..4; one core per tile
    traffic = sp.csr_matrix(([4.0, 3.0, 2.0, 1.0], ([0, 0, 0, 0], [1, 2, 3, 4])), shape=(5, 5))
    sym = (traffic + traffic.T).tocsr()
    # centre: 4 partners at 1 hop (10); each leaf: its one partner at 1 hop (4+3+2+1); half of the sum
    assert lower_bound(sym, 1) == 10.0
    t = _grid_target()  # 3 x 2 tiles: the centre has only 3 neighbours, the optimum is 4+3+2+2*1 = 11
    sx, sy = _region(5, t)
    best = min(hop_cost(traffic, sx[list(s)], sy[list(s)]) for s in itertools.permutations(range(len(sx)), 5))
    assert best == 11.0
    p = place(traffic, t, "cpsat", time_limit=2.0)
    assert p.objective == 11.0 and 10.0 <= p.bound <= 11.0
    # 4 cores per tile: the centre's 3 heaviest partners share its tile, the lightest is 1 hop away
    # (cost 1); every leaf's single partner could share its tile (0); half the sum
    assert lower_bound(sym, 4) == 0.5


def test_cpsat_never_worse_than_sequential_or_greedy():
    rng = np.random.default_rng(7)
    t = load_target("loihi")
    for n in (6, 14, 40):
        traffic = random_traffic(rng, n, density=0.3, high=4)
        c = place(traffic, t, "cpsat", time_limit=0.05)
        for m in ("sequential", "greedy"):
            assert c.objective <= place(traffic, t, m).objective
        assert c.bound is not None and c.bound <= c.objective + 1e-9


def test_link_balancing_keeps_hops_and_lowers_the_peak():
    # a row of 4 tiles; A->B and C->D both 2 hops; with C left of D both flows use link 1-2 eastwards
    traffic = sp.csr_matrix(([1.0, 1.0], ([0, 2], [1, 3])), shape=(4, 4))
    sx, sy = np.arange(4), np.zeros(4, np.int64)
    pos = np.array([0, 2, 1, 3])

    def peak(p):
        return max(m.max() for m in link_loads(traffic, sx[p], sy[p], (4, 1)))
    assert peak(pos) == 2.0
    new, moves = balance_links(traffic, sx, sy, pos, (4, 1), 50)
    assert moves >= 1 and peak(new) == 1.0
    assert hop_cost(traffic, sx[new], sy[new]) == hop_cost(traffic, sx[pos], sy[pos]) == 4.0


def test_hilbert_curve_steps_to_neighbours_and_curve_greedy_is_used_for_big_meshes():
    side = 8
    order = sorted(((x, y) for x in range(side) for y in range(side)), key=lambda p: _hilbert(side, *p))
    assert len({_hilbert(side, x, y) for x, y in order}) == side * side
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(order, order[1:]))
    # a chain of 60 cores with shuffled ids: the curve layout keeps chain neighbours close
    n, perm = 60, np.random.default_rng(1).permutation(60)
    traffic = sp.csr_matrix((np.ones(n - 1), (perm[:-1], perm[1:])), shape=(n, n))
    t = load_target("loihi")
    g = place(traffic, t, "greedy", greedy_max_cores=10)
    c = place(traffic, t, "cpsat", time_limit=0.2, greedy_max_cores=10)
    seq = place(traffic, t, "sequential")
    assert g.objective < seq.objective and c.objective <= g.objective
    assert c.bound <= c.objective
