"""Hand-computed cases for stdp (additive, soft), nn_stdp and homeostatic_stdp (Rule.step directly)."""
import math

import numpy as np
import pytest

from neuromap.params import validate_params
from neuromap.plasticity import rule_class


def make(rule, n_pre=1, n_post=1, **params):
    rc = rule_class(rule)
    p = validate_params(rc.PARAMS, params, "plasticity")
    pre = np.arange(n_pre).repeat(n_post)
    post = np.tile(np.arange(n_post), n_pre)
    r = rc(p, pre, post, n_pre, n_post, 1.0)
    r.pre_state = {"last_spike": np.full(n_pre, -10**9, np.int64)}
    return r


def drive(r, w, pre_steps, post_steps, steps):
    """Run ``steps`` steps; pre arrivals / post spikes at the given steps; keeps last_spike like the simulator."""
    post_last = np.full(r.n_post, -10**9, np.int64)
    for t in range(steps):
        arr = np.full(w.size, t in pre_steps)
        spk = np.full(r.n_post, t in post_steps)
        if t in pre_steps:
            r.pre_state["last_spike"][:] = t
        post_last[spk] = t
        r.step(w, arr, spk, {"last_spike": post_last})
    return w


@pytest.mark.parametrize("lag", [0, 3, 7])
def test_stdp_additive_causal_pair(lag):
    r = make("stdp", tau_plus=10.0, A_plus=0.01, A_minus=0.02, w_max=1.0)
    w = drive(r, np.array([0.5]), {2}, {2 + lag}, 20)
    assert w[0] == pytest.approx(0.5 + 0.01 * math.exp(-lag / 10.0), rel=1e-12)


def test_stdp_additive_anticausal_pair():
    r = make("stdp", tau_minus=20.0, A_plus=0.01, A_minus=0.02)
    w = drive(r, np.array([0.5]), {9}, {4}, 20)
    assert w[0] == pytest.approx(0.5 - 0.02 * math.exp(-5 / 20.0), rel=1e-12)


def test_stdp_soft_bounds_scale_with_distance_to_bound():
    r = make("stdp", n_pre=2, tau_plus=10.0, tau_minus=10.0, A_plus=0.1, A_minus=0.1, w_min=0.0, w_max=1.0, bound="soft")
    w = drive(r, np.array([0.8, 0.2]), {0}, {1}, 3)
    assert w == pytest.approx([0.8 + (1 - 0.8) * 0.1 * math.exp(-0.1), 0.2 + 0.8 * 0.1 * math.exp(-0.1)])
    r = make("stdp", n_pre=2, tau_plus=10.0, tau_minus=10.0, A_plus=0.1, A_minus=0.1, w_min=0.0, w_max=1.0, bound="soft")
    w = drive(r, np.array([0.8, 0.2]), {1}, {0}, 3)
    assert w == pytest.approx([0.8 - 0.8 * 0.1 * math.exp(-0.1), 0.2 - 0.2 * 0.1 * math.exp(-0.1)])


def test_stdp_clips():
    r = make("stdp", A_plus=1.0, w_max=0.7)
    assert drive(r, np.array([0.5]), {0}, {0}, 2)[0] == 0.7


def test_nn_stdp_per_step_ltp_then_ltd():
    # s = 1 - exp(-1/tau): traces decay by exp(-1/tau) per step (exponential Euler)
    A, B = 0.0002, 0.000066
    r = make("nn_stdp")
    dp, dm = math.exp(-1 / 20.0), math.exp(-1 / 60.0)
    w = drive(r, np.array([0.02]), {0}, {3}, 6)
    # steps 0..5: t_post (never, then 3) vs t_pre = 0: before the post spike t_post = -1e9 < 0 -> -ltd (= 0);
    # from step 3 on t_post >= t_pre -> +ltp = A dp^(t+1); ltd is set after the step-3 update
    expect = 0.02 + sum(A * dp ** (t + 1) for t in (3, 4, 5))
    assert w[0] == pytest.approx(expect, rel=1e-10)
    r2 = make("nn_stdp")
    w2 = drive(r2, np.array([0.02]), {2}, {0, 1}, 5)
    # post at 0, 1 then pre at 2: at steps 0, 1 causal? t_post >= t_pre(-1e9) yes with ltp = 0 -> +0;
    # from step 2, t_pre = 2 > t_post = 1 -> -ltd, ltd = B set after step 1: steps 2, 3, 4 -> B dm^(1..3)
    assert w2[0] == pytest.approx(0.02 - sum(B * dm ** k for k in (1, 2, 3)), rel=1e-10)


def test_homeostatic_rate_window_and_update_by_hand():
    r = make("homeostatic_stdp", T=10.0, Rtarget=100.0, alpha=0.01, beta=1.0, gamma=2.0, A_plus=0.0, A_minus=0.0,
             w_max=1.0)
    w = np.array([0.5])
    # post spikes at steps 0..3: after step 3, R = 4 spikes / 10 ms = 400 Hz
    drive(r, w, set(), {0, 1, 2, 3}, 4)
    assert r.rate()[0] == 400.0
    w = np.array([0.5])
    drive(r, w, set(), set(), 1)  # step 4: still 4 spikes in (t-10, t]
    R = 400.0
    K = R / (10.0 * (1 + abs(1 - R / 100.0) * 2.0))
    assert w[0] == pytest.approx(0.5 + 0.01 * 0.5 * (1 - R / 100.0) * K, rel=1e-12)
    drive(r, w, set(), set(), 6)  # steps 5..10: the spike of step 0 leaves the window at step 10
    assert r.rate()[0] == 300.0


def test_homeostatic_pushes_weights_down_above_target_and_up_below():
    for spikes, sign in ((set(range(0, 200, 2)), -1), ({0, 100}, +1)):
        r = make("homeostatic_stdp", T=100.0, A_plus=0.0, A_minus=0.0)
        w = drive(r, np.array([0.015]), set(), spikes, 200)
        assert np.sign(w[0] - 0.015) == sign
