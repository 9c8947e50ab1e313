"""vogels_isp: hand-computed updates (V1)-(V4) and the expected drift toward rho0."""
import math

import numpy as np
import pytest

from neuromap.errors import NetworkFormatError
from neuromap.params import validate_params
from neuromap.plasticity import rule_class

Rule = rule_class("vogels_isp")


def make(n_pre=1, n_post=1, pre=None, post=None, dt=1.0, **kw):
    params = validate_params(Rule.PARAMS, kw, field="plasticity")
    pre = np.arange(n_pre) if pre is None else np.asarray(pre)
    post = np.zeros(len(pre), dtype=np.int64) if post is None else np.asarray(post)
    return Rule(params, pre, post, n_pre, n_post, dt)


def run(rule, w, events, steps):
    """events: {step: (pre_arrived list, post_spiked list)}."""
    for t in range(steps):
        pre, post = events.get(t, ([False] * len(w), [False] * rule.n_post))
        rule.step(w, np.array(pre), np.array(post), {})
    return w


def test_alpha_is_two_rho0_tau():
    r = make(rho0=5.0, tau_stdp=20.0)
    assert r.alpha == pytest.approx(0.2)


def test_hand_computed_sequence_additive():
    eta, tau, rho0 = 0.01, 20.0, 5.0
    alpha = 2 * rho0 * tau / 1000.0
    r = make(eta=eta, tau_stdp=tau, rho0=rho0)
    w = np.array([1.0])
    ev = {0: ([True], [False]), 5: ([False], [True]), 10: ([True], [True])}
    run(r, w, {0: ev[0]}, 1)
    assert w[0] == pytest.approx(1.0 - eta * alpha)                      # (V1), no post yet
    run(r, w, {4: ev[5]}, 5)                                               # steps 1..5
    expected = 1.0 - eta * alpha + eta * math.exp(-5 / tau)              # (V2) Delta t = 5
    assert w[0] == pytest.approx(expected)
    run(r, w, {4: ev[10]}, 5)                                              # steps 6..10
    # pre at 10 sees the post trace of step 5 only; post at 10 sees pre at 0 and 10 (Delta t=0, once)
    expected += eta * (math.exp(-5 / tau) - alpha) + eta * (math.exp(-10 / tau) + 1.0)
    assert w[0] == pytest.approx(expected, rel=1e-12)


def test_multiplicative_scales_by_weight_and_clips():
    r = make(eta=0.1, tau_stdp=10.0, rho0=10.0, weight_dependence="multiplicative")
    w = np.array([2.0, 0.5])
    r2 = make(n_pre=2, eta=0.1, tau_stdp=10.0, rho0=10.0, weight_dependence="multiplicative")
    r2.step(w, np.array([True, True]), np.array([False]), {})
    alpha = 2 * 10.0 * 10.0 / 1000.0
    np.testing.assert_allclose(w, [2.0 * (1 - 0.1 * alpha), 0.5 * (1 - 0.1 * alpha)])
    w1 = np.array([0.01])
    make(eta=1.0, rho0=50.0).step(w1, np.array([True]), np.array([False]), {})
    assert w1[0] == 0.0                                                    # clipped at w_min
    assert r.multiplicative


def test_post_trace_is_per_neuron_and_gathered():
    # two synapses onto different posts; only post 1 spikes earlier
    r = make(n_pre=2, n_post=2, post=[0, 1], eta=1.0, rho0=0.0, tau_stdp=10.0)
    w = np.array([1.0, 1.0])
    r.step(w, np.array([False, False]), np.array([False, True]), {})
    r.step(w, np.array([True, True]), np.array([False, False]), {})
    np.testing.assert_allclose(w, [1.0, 1.0 + math.exp(-1 / 10.0)])


@pytest.mark.parametrize("rate_post", [2.0, 5.0, 12.0])
def test_expected_drift_vanishes_at_target_rate(rate_post):
    """E[dw/step] = eta * p_pre * (2 tau/dt) * (p_post - p0) exactly for Bernoulli trains at dt = 1 ms.

    (sum_{k>=1} e^{-k/tau} + sum_{k>=0} e^{-k/tau} = 2 / tanh(1/(2 tau)) ~ 2 tau; computed exactly.)
    """
    n, steps, eta, tau, rho0, rate_pre = 400, 20000, 1e-3, 20.0, 5.0, 10.0
    r = make(n_pre=n, n_post=n, post=np.arange(n), eta=eta, tau_stdp=tau, rho0=rho0)
    rng = np.random.default_rng(1)
    w = np.full(n, 5.0)
    p_pre, p_post = rate_pre / 1000.0, rate_post / 1000.0
    for _ in range(steps):
        r.step(w, rng.random(n) < p_pre, rng.random(n) < p_post, {})
    q = math.exp(-1 / tau)
    window = q / (1 - q) + 1 / (1 - q)                  # pairs with Delta t > 0 plus Delta t >= 0
    expected = eta * p_pre * (window * p_post - r.alpha) * steps
    got = w.mean() - 5.0
    sem = w.std() / math.sqrt(n)
    assert abs(got - expected) < 4 * sem + 1e-4
    if rate_post != rho0:
        assert np.sign(got) == np.sign(rate_post - rho0)
        assert abs(got) > 6 * sem


def test_bad_params_rejected():
    with pytest.raises(NetworkFormatError, match="weight_dependence"):
        make(weight_dependence="quadratic")
    with pytest.raises(NetworkFormatError, match="rho0"):
        make(rho0=-1.0)
