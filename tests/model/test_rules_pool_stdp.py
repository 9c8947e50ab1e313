"""pool_stdp (seed 000): every term (P1)-(P17) against hand-computed values on a few synapses."""
import math

import numpy as np
import pytest

from neuromap.errors import NetworkFormatError
from neuromap.params import validate_params
from neuromap.plasticity import rule_class

Rule = rule_class("pool_stdp")
# every term off except what a test switches on: ample pool, no degradation, S = 0, no scaling
QUIET = dict(k_pw=0.0, alpha_s=0.0, alpha_ss=0.0, pw_init=1e6, g_soma=0.0, alpha_c=0.0, gamma_c=0.0)


def make(n_pre=1, n_post=1, post=None, dt=1.0, **kw):
    params = validate_params(Rule.PARAMS, {**QUIET, **kw}, field="plasticity")
    post = np.zeros(n_pre, dtype=np.int64) if post is None else np.asarray(post)
    return Rule(params, np.arange(n_pre), post, n_pre, n_post, dt)


def step(rule, w, pre, post):
    rule.step(w, np.asarray(pre, dtype=bool), np.asarray(post, dtype=bool), {})


def sig(c):
    return 1.0 / (1.0 + math.exp(-c))


def test_soft_bounded_stdp_pre_before_post_and_post_before_pre():
    r = make(n_pre=2, a_plus=0.1, a_minus=0.2, tau_plus=4.0, tau_minus=8.0, w_min=0.1, w_max=1.0)
    w = np.array([0.5, 0.5])
    step(r, w, [1, 0], [0])            # t=0 pre 0
    step(r, w, [0, 0], [0])
    step(r, w, [0, 0], [1])            # t=2 post: potentiate syn 0 by (Wmax-W) A+ e^{-2/4}  (P2, P3)
    w0 = 0.5 + (1.0 - 0.5) * 0.1 * math.exp(-2 / 4.0)
    assert w[0] == pytest.approx(w0)
    assert w[1] == 0.5                 # never active: no change
    step(r, w, [0, 0], [0])
    step(r, w, [0, 1], [0])            # t=4 pre 1 after post at 2: depress by (W-Wmin) A- e^{-2/8}
    assert w[1] == pytest.approx(0.5 - (0.5 - 0.1) * 0.2 * math.exp(-2 / 8.0))
    assert w[0] == pytest.approx(w0)


def test_same_step_pair_potentiates_and_nearest_spike_traces():
    r = make(n_pre=1, a_plus=0.1, a_minus=0.1, tau_plus=10.0)
    w = np.array([0.2])
    step(r, w, [1], [0])
    step(r, w, [1], [1])               # pre at 0 and 1, post at 1: nearest pre (Delta t = 0) -> factor 1
    assert w[0] == pytest.approx(0.2 + 0.8 * 0.1)


def test_pool_caps_potentiation_and_is_consumed():
    r = make(n_pre=3, a_plus=0.1, a_minus=0.0, pw_init=0.03)
    w = np.array([0.0, 0.5, 0.8])
    step(r, w, [1, 1, 1], [1])         # raw dW+ = 0.1, 0.05, 0.02 (sum 0.17 > Pw = 0.03)  (P4)
    raw = np.array([0.1, 0.05, 0.02])
    np.testing.assert_allclose(w - [0.0, 0.5, 0.8], raw * 0.03 / 0.17)
    assert (w - [0.0, 0.5, 0.8]).sum() == pytest.approx(0.03)
    assert r.pw[0] == pytest.approx(0.0)                 # (P10): the pool is used up
    step(r, w, [1, 1, 1], [1])         # empty pool: no further potentiation
    np.testing.assert_allclose(w.sum(), 1.33)


def test_uncapped_when_pool_suffices_and_depression_returns_alpha_r():
    r = make(n_pre=2, a_plus=0.1, a_minus=0.1, pw_init=1.0, alpha_r=0.25)
    w = np.array([0.5, 0.5])
    step(r, w, [1, 0], [1])            # dW+ = 0.05 for syn 0 (fits in the pool)
    assert w[0] == pytest.approx(0.55)
    assert r.pw[0] == pytest.approx(1.0 - 0.05)
    step(r, w, [0, 1], [0])            # syn 1 depressed by 0.5*0.1*e^{-1/5}; pool gets 0.25 of it  (P5)
    d = 0.5 * 0.1 * math.exp(-1 / 5.0)
    assert w[1] == pytest.approx(0.5 - d)
    assert r.pw[0] == pytest.approx(0.95 + 0.25 * d)


def test_adrd_degradation_and_dendritic_calcium():
    r = make(n_pre=2, k_pw=0.1, pw_init=1.0, alpha_c=0.1, beta_c=2.0, gamma_c=0.05)
    w = np.array([0.5, 0.3])
    step(r, w, [1, 0], [0])            # x = (0.5, 0): ADRD k_pw*x (P15), pool degr k_pw*sum x (P6)
    np.testing.assert_allclose(w, [0.45, 0.3])
    assert r.pw[0] == pytest.approx(1.0 - 0.05)
    c1 = 0.0 + 0.5 - (0.1 * math.exp(0.0) - 0.05)        # (P12, P14)
    assert r.c_dend[0] == pytest.approx(c1)
    step(r, w, [0, 1], [0])
    c2 = c1 + 0.3 - (0.1 * math.exp(2.0 * c1) - 0.05)
    assert r.c_dend[0] == pytest.approx(c2)


def test_demand_supply_and_functional_soma():
    # C = 0: S = alpha_s (sigmoid(0) - beta_s) = 1*(0.5-0.7) = -0.2; want = 0.2 * Pw  (P7, P8)
    r = make(alpha_s=1.0, beta_s=0.7, pw_init=1.0, pw_soma_init=0.15, g_soma=2.0, k_cg=0.5)
    w = np.array([0.5])
    step(r, w, [0], [1])
    assert r.last["demand"][0] == pytest.approx(0.2)
    assert r.pw[0] == pytest.approx(1.15)                 # supply = min(0.2, Pw_soma = 0.15)  (P9)
    assert r.pw_soma[0] == pytest.approx(0.15 - 0.15 + 2.0 * (1 - math.tanh(0.0)))   # (P11)
    assert r.c_soma[0] == pytest.approx(0.5)              # k_cg * O  (P13)
    step(r, w, [0], [0])
    assert r.last["prod"][0] == pytest.approx(2.0 * (1 - math.tanh(0.5)))
    assert r.last["demand"][0] == pytest.approx(0.2 * 1.15)


def test_high_calcium_no_demand_literal_vs_conserve():
    kw = dict(n_pre=2, alpha_s=1.0, beta_s=0.7, a_plus=0.1, a_minus=0.0, pw_init=1.0, pw_soma_init=5.0)
    rc, rl = make(**kw), make(**kw, pool_update="literal")
    for r in (rc, rl):
        r.c_dend[:] = 3.0                                   # sigmoid(3) = 0.953 > beta: S > 0
        w = np.array([0.5, 0.5])
        step(r, w, [1, 0], [1])                            # use 0.05 -> want < 0, demand 0
        assert r.last["demand"][0] == 0.0
        assert r.pw[0] == pytest.approx(0.95)              # both forms: -use - degr
    for r in (rc, rl):
        r.c_dend[:] = 0.0                                   # S = -0.2 < 0: demand > 0
    wc, wl = np.array([0.5, 0.5]), np.array([0.5, 0.5])
    step(rc, wc, [0, 1], [1])
    step(rl, wl, [0, 1], [1])
    use = 0.5 * 0.1 * (math.exp(-1 / 5.0) + 1.0)          # syn 0 paired at Delta t = 1, syn 1 at 0
    want = 0.2 * (0.95 - use)
    assert rc.pw[0] == pytest.approx(0.95 + want - use)   # conserve: supply - use
    assert rl.pw[0] == pytest.approx(0.95 + want)         # literal: supply only


def test_secretion_mode():
    r = make(soma_mode="secretion", alpha_secr=2.0, k_secr=1.5, pw_soma_init=0.0, k_cg=1.0)
    w = np.array([0.5])
    step(r, w, [0], [1])
    assert r.pw_soma[0] == pytest.approx(2.0 * (1 - 0.5) * (sig(1.5) - 0.5))
    step(r, w, [0], [0])
    assert r.last["prod"][0] == pytest.approx(2.0 * (1 - sig(1.0)) * (sig(1.5) - 0.5))


def test_synaptic_scaling_toward_goal_sum():
    r = make(n_pre=3, n_post=2, post=[0, 0, 1], alpha_ss=0.1, w_goal_sum=0.4)
    w = np.array([0.6, 0.2, 0.2])
    step(r, w, [0, 0, 0], [0, 0])      # dW_ss = alpha W (1 - goal/sum W)  (P16)
    np.testing.assert_allclose(w, [0.6 - 0.1 * 0.6 * 0.5, 0.2 - 0.1 * 0.2 * 0.5, 0.2 - 0.1 * 0.2 * (1 - 2.0)])
    r0 = make(n_pre=2, alpha_ss=0.1)   # goal 0 = initial sum: scaling holds the total there
    w = np.array([0.7, 0.1])
    for _ in range(5):
        step(r0, w, [0, 0], [0])
    np.testing.assert_allclose(w, [0.7, 0.1])
    w[:] = [0.9, 0.3]
    step(r0, w, [0, 0], [0])
    assert w.sum() == pytest.approx(1.2 - 0.1 * 1.2 * (1 - 0.8 / 1.2))


def test_weights_clipped_and_pools_nonnegative():
    r = make(n_pre=1, k_pw=0.9, pw_init=0.1, w_min=0.2)
    w = np.array([0.5])
    step(r, w, [1], [0])
    assert w[0] == pytest.approx(0.2) and r.pw[0] == 0.0


def test_bad_params_rejected():
    with pytest.raises(NetworkFormatError, match="soma_mode"):
        make(soma_mode="esn")
    with pytest.raises(NetworkFormatError, match="alpha_r"):
        make(alpha_r=1.5)


def test_demand_set_point_refills_toward_pw_set():
    # S = 2 * (sigmoid(C) - 0.5) > 0; remaining pool 0.1 - 0.02 (degr) -> want = S * (0.3 - 0.08)
    r = make(n_pre=1, alpha_s=2.0, beta_s=0.5, pw_init=0.1, pw_set=0.3, k_pw=0.04, pw_soma_init=1.0)
    r.c_dend[:] = 1.0
    w = np.array([0.5])
    step(r, w, [1], [0])
    s = 2.0 * (sig(1.0) - 0.5)
    assert r.last["demand"][0] == pytest.approx(s * (0.3 - 0.08))
    assert r.pw[0] == pytest.approx(0.08 + s * 0.22)
    r0 = make(n_pre=1, alpha_s=2.0, beta_s=0.5, pw_init=0.1, k_pw=0.04)    # seed's form: pw_set = 0
    r0.c_dend[:] = 1.0
    step(r0, np.array([0.5]), [1], [0])
    assert r0.last["demand"][0] == 0.0 and r0.pw[0] == pytest.approx(0.08)
