"""Crossbar legalization (axon types + 9-bit weights, CP-SAT), its report and the placer cost."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.truenorth import make_core, run
from neuromap.errors import TargetError
from neuromap.truenorth.crossbar import (_best_levels, auto_split, candidate_levels, cluster_solution,
                                        core_cost, legalize_crossbar, pair_cost)
from neuromap.truenorth.report import CrossbarReport


def brute_force(W):
    """Minimum of E over every type assignment (weights optimal per type by exhaustive search)."""
    W = np.asarray(W, float)
    cands = [candidate_levels(W[:, j]) for j in range(W.shape[1])]
    return min(_best_levels(W, np.array(t), cands)[1].sum() for t in itertools.product(range(4), repeat=len(W)))


def brute_force_levels(W):
    """Same, but every integer weight -255..255 is tried (checks the candidate-level argument)."""
    W = np.asarray(W, float)
    allv = [np.arange(-255, 256)] * W.shape[1]
    return min(_best_levels(W, np.array(t), allv)[1].sum() for t in itertools.product(range(4), repeat=len(W)))


def check_consistent(W, sol):
    """The solution is legal and its realized weights are what the hardware computes."""
    P, N = sol.crossbar.shape
    assert sol.axon_type.max(initial=0) <= 3 and np.abs(sol.s).max(initial=0) <= 255
    hw = np.where(sol.crossbar, sol.s[:, sol.axon_type].T, 0)
    realized = np.zeros_like(sol.realized)
    np.add.at(realized, sol.axon_input, hw)
    assert np.array_equal(realized, sol.realized)
    assert sol.error_l1 == pytest.approx(np.abs(np.asarray(W, float) - realized).sum())


def test_hand_example_two_types_exact():
    # rows 0,1 want (+3 on n0, -2 on n1); row 2 wants (+5, 0); row 3 (0, -2): 3 patterns fit in 4 types
    W = np.array([[3, -2], [3, -2], [5, 0], [0, -2]])
    sol = legalize_crossbar(W)
    assert sol.error_l1 == 0 and sol.optimal and sol.method == "cpsat-exact"
    assert np.array_equal(sol.realized, W)
    check_consistent(W, sol)


def test_five_levels_on_one_neuron_cost_the_closest_merge():
    # one neuron needs 5 distinct weights but has 4 types: the cheapest merge is 10/11 -> error 1
    W = np.array([[10], [11], [50], [-40], [100]])
    sol = legalize_crossbar(W)
    assert sol.optimal and sol.error_l1 == 1.0
    check_consistent(W, sol)


def test_out_of_range_weight_is_clipped_at_255():
    W = np.array([[300.0]])
    sol = legalize_crossbar(W)
    assert sol.realized[0, 0] == 255 and sol.error_l1 == 45


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2 ** 31))
def test_cpsat_exact_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    P, N = rng.integers(2, 7), rng.integers(1, 4)
    W = rng.integers(-30, 31, (P, N)) * (rng.random((P, N)) < 0.7)
    if rng.random() < 0.5:
        W = W + rng.random((P, N)).round(2) * (W != 0)  # fractional targets
    sol = legalize_crossbar(W)
    assert sol.method == "cpsat-exact" and sol.optimal
    assert sol.error_l1 == pytest.approx(brute_force(W), abs=1e-6)
    assert sol.lower_bound == pytest.approx(sol.error_l1, abs=1e-2)
    check_consistent(W, sol)


def test_candidate_levels_lose_nothing():
    rng = np.random.default_rng(4)
    W = rng.normal(0, 20, (4, 2)) * (rng.random((4, 2)) < 0.8)
    assert brute_force(W) == pytest.approx(brute_force_levels(W))


def test_planted_large_core_recovered_by_clustering():
    rng = np.random.default_rng(2)
    P, N = 200, 100
    types = rng.integers(0, 4, P)
    s = rng.integers(-255, 256, (N, 4))
    bits = rng.random((P, N)) < 0.3
    W = np.where(bits, s[:, types].T, 0)
    sol = legalize_crossbar(W, exact_max_terms=0, restricted_max_terms=0)
    assert sol.method == "clustering" and sol.error_l1 == 0
    check_consistent(W, sol)


def test_restricted_cpsat_never_worse_than_its_warm_start():
    rng = np.random.default_rng(3)
    W = rng.integers(-40, 41, (24, 12)) * (rng.random((24, 12)) < 0.5)
    warm = cluster_solution(W.astype(float), restarts=4, seed=0)[2]
    sol = legalize_crossbar(W, exact_max_terms=0, time_limit=2)
    assert sol.method in ("cpsat-restricted", "clustering") and sol.error_l1 <= warm + 1e-9
    check_consistent(W, sol)


def test_sign_split_copies_fix_a_sign_conflict():
    # 5 row patterns need 5 types; split into +/- parts, types (1,1), (-1,-1), (2,2), (-2,-2) realize all
    W = np.array([[1, -1], [-1, 1], [2, -2], [-2, 2], [1, 1]])
    plain = legalize_crossbar(W)
    assert plain.optimal and plain.error_l1 > 0
    split = legalize_crossbar(W, split=np.ones(5, bool))
    assert split.error_l1 == 0 and np.array_equal(split.realized, W)
    assert split.axon_type.shape[0] == 10 and np.array_equal(np.bincount(split.axon_input), [2] * 5)
    check_consistent(W, split)
    best = auto_split(W)
    assert best.error_l1 < plain.error_l1 and best.axon_type.shape[0] > 5
    check_consistent(W, best)


def test_solution_runs_on_the_emulator_with_the_realized_weights():
    W = np.array([[3, -2, 0], [3, 0, 7], [5, -1, 7], [0, -2, 1], [1, 1, 1]])
    sol = legalize_crossbar(W)
    core = make_core(sol.crossbar, sol.axon_type, s=sol.s, alpha=2 ** 18 - 1, beta=2 ** 18 - 1)
    r = run([core], 1, np.array([(0, 0, a) for a in range(W.shape[0])]), record_v=True)
    assert np.array_equal(r.v[0][0], sol.realized.sum(axis=0))


def test_too_many_axons_is_a_target_error():
    with pytest.raises(TargetError, match="exceeds one core"):
        legalize_crossbar(np.ones((200, 2)), split=np.ones(200, bool))


def test_report_rows_and_totals():
    W = np.array([[10], [11], [50], [-40], [100]])
    sol = legalize_crossbar(W)
    rep = CrossbarReport()
    row = rep.add(0, W, sol)
    assert row.n_targets == 5 and row.error_l1 == 1 and row.exact == 4 and row.dropped == 0
    assert row.rel_error == pytest.approx(1 / 211)
    rep.add(1, np.array([[300.0]]), legalize_crossbar(np.array([[300.0]])))
    t = rep.totals()
    assert t["error_l1"] == 46 and t["rel_error"] == pytest.approx(46 / 511) and t["optimal_cores"] == 2
    text = rep.format()
    assert "2/2 cores proven optimal" in text and len(text.splitlines()) == 5


def test_placer_costs():
    a = np.array([10, 20, 30, 40, 0, 0])
    # the same weights on the same inputs share types perfectly
    assert pair_cost(a, a) == pytest.approx(0)
    # conflicting partitions of the inputs: b wants inputs 0,1 apart from a's grouping
    b = np.array([40, 10, 30, 20, 5, 0])
    assert pair_cost(a, b) > 0
    c = core_cost(np.stack([a, b], 1))
    assert c.n_axons == 5 and c.n_neurons == 2 and c.fits
    assert not core_cost(np.ones((300, 1))).fits
