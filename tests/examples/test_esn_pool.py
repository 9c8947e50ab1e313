"""pool_esn: ESN Q-learning controller of seed 000's receptor secretion (mechanics, parity with pool_stdp)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import neuromap
from neuromap.controllers.esn_pool import EsnQController

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from pool_esn import SECRETION, build, compare  # noqa: E402


def test_reservoir_and_td_update_hand_computed():
    c = EsnQController(1, n_res=20, rho=0.8, leak=0.5, lr=0.1, gamma=0.5, epsilon=0.0, seed=3)
    assert np.max(np.abs(np.linalg.eigvals(c.W))) == pytest.approx(0.8)
    o1, o2 = np.array([[0.1, 0.2, 0.3, 0.4]]), np.array([[0.4, 0.3, 0.2, 0.1]])
    x1 = 0.5 * np.tanh(o1 @ c.W_in.T)
    c.W_out[2, -1] = 1.0                     # bias makes "up" the greedy action
    assert c.act(o1, None)[0] == 2
    np.testing.assert_allclose(c.x, x1, rtol=1e-15)
    f1 = np.append(x1[0], 1.0)
    x2 = 0.5 * x1 + 0.5 * np.tanh(o2 @ c.W_in.T + x1 @ c.W.T)
    f2 = np.append(x2[0], 1.0)
    w_out = c.W_out.copy()
    q2 = w_out @ f2
    td = -0.25 + 0.5 * q2.max() - w_out[2] @ f1
    c.act(o2, np.array([-0.25]))
    np.testing.assert_allclose(c.W_out[2], w_out[2] + 0.1 * td * f1, rtol=1e-14)
    np.testing.assert_array_equal(c.W_out[:2], w_out[:2])


def _weights(law_params, steps=600):
    net = build("fixed", reps=1)
    net.projections[0].plasticity = law_params
    return neuromap.simulate(net, steps, backend="numpy").weights


def test_keep_only_equals_pool_stdp_secretion():
    """epsilon = 0 and no learning: every decision ties -> keep, so the weights are pool_stdp's exactly."""
    esn = dict(SECRETION, rule="pool_esn", epsilon=0.0, lr=0.0)
    a, b = _weights(esn), _weights(dict(SECRETION, rule="pool_stdp"))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_actions_move_k_secr_by_dk_within_bounds():
    from neuromap.params import validate_params
    from neuromap.plasticity import rule_class
    rc = rule_class("pool_esn")
    p = validate_params(rc.PARAMS, dict(epsilon=1.0, dk=0.5, k_max=1.0, period=2, k_secr=0.0), "t")
    r = rc(p, np.array([0, 1]), np.array([0, 0]), 2, 1, 1.0)
    w = np.array([0.5, 0.5])
    for t in range(40):
        r.step(w, np.array([t % 3 == 0, t % 5 == 0]), np.array([t % 7 == 0]), {})
    k = np.array(r.k_history)[:, 0]
    assert len(k) == 20 and k[0] in (0.0, 0.5, -0.5)
    steps = np.diff(k)
    assert set(np.round(steps, 12)) <= {0.0, 0.5, -0.5} and len(set(np.round(steps, 12))) > 1
    assert np.abs(k).max() <= 1.0


@pytest.mark.slow
def test_seed_comparison_runs():
    rows = compare(reps=2)
    assert set(rows) == {"functional", "fixed", "esn"}
    assert all(0.0 <= r["dev"] < 1.0 for r in rows.values())


def _k_history(**kw):
    from neuromap.params import validate_params
    from neuromap.plasticity import rule_class
    rc = rule_class("pool_esn")
    p = validate_params(rc.PARAMS, dict(dict(dk=0.5, k_max=2.0, period=2, k_secr=0.0, lr=0.5, seed=3), **kw), "t")
    r = rc(p, np.array([0, 1]), np.array([0, 1]), 2, 2, 1.0)
    w = np.array([0.5, 0.5])
    for t in range(60):
        r.step(w, np.array([t % 3 == 0, t % 4 == 0]), np.array([t % 7 == 0, t % 5 == 0]), {})
    return np.array(r.k_history)


def test_greedy_from_stops_exploration():
    """greedy_from = 0 with epsilon = 1 is the greedy run (epsilon 0); greedy_from = 20 explores in the first 10
    decisions (period 2) like epsilon = 1 throughout, then not."""
    always = _k_history(epsilon=1.0)
    assert np.array_equal(_k_history(epsilon=1.0, greedy_from=0), _k_history(epsilon=0.0))
    late = _k_history(epsilon=1.0, greedy_from=20)
    assert np.array_equal(late[:10], always[:10]) and not np.array_equal(late, always)


def test_linear_schedule_anneals_epsilon_to_zero_at_greedy_from():
    from neuromap.params import validate_params
    from neuromap.plasticity import rule_class
    rc = rule_class("pool_esn")
    p = validate_params(rc.PARAMS, dict(epsilon=0.4, period=5, greedy_from=20, epsilon_schedule="linear"), "t")
    r = rc(p, np.array([0]), np.array([0]), 1, 1, 1.0)
    seen = []
    for t in range(30):
        r.step(np.array([0.5]), np.array([t % 3 == 0]), np.array([t % 7 == 0]), {})
        if t % 5 == 0:
            seen.append(r.controller.epsilon)
    np.testing.assert_allclose(seen, [0.4, 0.3, 0.2, 0.1, 0.0, 0.0], atol=1e-15)   # decisions at t = 0, 5, .. 25
    assert _k_history(epsilon=1.0, greedy_from=20, epsilon_schedule="linear").shape == (30, 2)
