"""The float R-STDP rule (``rstdp``) and its compilation onto the three-factor engine ``loihi3f``: hand-computed
steps of the float rule; the compiled image (engine, rule, reward events, parameter errors); the post-trace
mass the mapping matches; and, on the same recorded spike trains, the engine's eligibility (tag_1 / c_e) close to
the float rule's."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from backends.lava.compat import lava_available
from neuromap.compiler.quantize_learning import _rstdp_loihi3f, post_trace_mass
from neuromap.learning_engines import loihi3f
from neuromap.plasticity.rstdp import Rule, reward_steps

P = dict(tau_plus=20.0, tau_minus=20.0, A_plus=1.0, A_minus=-1.2, tau_e=0.0625, eta=0.01, w_min=0.0, w_max=0.3,
         reward_value=1.0, reward_start=3, reward_stop=5, reward_period=0, reward_until=0)


def test_float_rule_hand_computed():
    r = Rule(P, np.array([0]), np.array([0]), 1, 1, 1.0)
    w = np.array([0.1])
    d = math.exp(-1 / 20)
    r.step(w, np.array([True]), np.array([False]), None)      # step 0: pre arrives, x = 1, no pairing
    assert r.x[0] == 1.0 and r.e[0] == 0.0
    r.step(w, np.array([False]), np.array([True]), None)      # step 1: post spike, e = A+ x = d
    assert r.e[0] == pytest.approx(d)
    r.step(w, np.array([True]), np.array([False]), None)      # step 2: pre arrives, y = 1 (post of step 1)
    e2 = d * (1 - 0.0625) + (-1.2) * 1.0
    assert r.e[0] == pytest.approx(e2) and w[0] == 0.1       # no reward yet
    r.step(w, np.array([False]), np.array([False]), None)     # step 3: rewarded, w += eta R e_old
    assert w[0] == pytest.approx(0.1 + 0.01 * e2)
    assert reward_steps(dict(P, reward_period=10, reward_until=25)).tolist() == [3, 4, 13, 14, 23, 24]


def test_post_trace_mass_is_the_floored_sum():
    assert post_trace_mass(3.0, 0.5) == 3 + 1
    assert post_trace_mass(20.7, math.exp(-1 / 20)) == sum(range(1, 21))     # falls by 1 per step from 20


def _eligibility(over):
    """(float e, engine tag_1 / c_e, report) per step and synapse on one set of spike trains (delay 1: the float
    rule sees a pre spike one step after the engine); post spikes partly caused by the pre spikes."""
    rng = np.random.default_rng(0)
    T, n_pre, n_post = 1000, 12, 4
    pre = rng.random((T, n_pre)) < 0.05
    post = np.zeros((T, n_post), bool)
    post[1:] = (rng.random((T - 1, n_post)) < 0.02) | (pre[:-1, :n_post] & (rng.random((T - 1, n_post)) < 0.3))
    post_idx, pre_idx = np.divmod(np.arange(n_post * n_pre), n_pre)
    params = dict(P, reward_start=10 ** 6, reward_stop=10 ** 6 + 1, **over)    # no reward in the run
    pr = SimpleNamespace(plasticity=params, delay=np.ones(1, int), n_synapses=pre_idx.size)
    _, learning, arrays, rep = _rstdp_loihi3f(pr, {}, 850.0, 1, 255, 1.0, "p")
    rule = Rule(params, pre_idx, post_idx, n_pre, n_post, 1.0)
    sch = loihi3f.Schema.from_dict(learning)
    st = loihi3f.make_state(sch, arrays, n_pre, n_post, pre_idx, post_idx)
    inv = np.empty_like(st.order)
    inv[st.order] = np.arange(st.order.size)
    w, wi = np.zeros(pre_idx.size), np.zeros(pre_idx.size, np.int32)
    ef, ec = [], []
    for k in range(T):
        rule.step(w, pre[k - 1][pre_idx] if k else np.zeros(pre_idx.size, bool), post[k], None)
        loihi3f.step(sch, st, wi, pre[k], post[k], k + 1)
        ef.append(rule.e.copy())
        ec.append(st.ls.tag_1[inv] / rep["tag_per_eligibility"])
    return np.array(ef[200:]), np.array(ec[200:]), learning, arrays, rep


@pytest.mark.skipif(not lava_available(), reason="rule strings are parsed by Lava's parser")
def test_compiled_rule_and_eligibility_on_the_same_spikes():
    ef, ec, learning, arrays, rep = _eligibility({})
    assert learning["engine"] == "loihi3f" and learning["rules"]["dw"].endswith("u0 * t * y2")
    assert "x0 * y0" in rep["rule"] and rep["param_rel_error"]["tau_e"] == 0.0
    assert max(rep["param_rel_error"][k] for k in ("A_plus", "A_minus")) < 0.02
    assert arrays["third_factor_step"].tolist() == [10 ** 6 + 1]
    assert np.corrcoef(ef.ravel(), ec.ravel())[0, 1] > 0.9
    pot, pot_chip = _eligibility({"A_minus": -0.05})[:2]           # potentiation dominates
    assert abs(pot_chip.mean() / pot.mean() - 1) < 0.05
    dep, dep_chip = _eligibility({"A_plus": 0.05})[:2]             # depression dominates: the floored post trace
    assert abs(dep_chip.mean() / dep.mean() - 1) < 0.1             # (measured 6 %: overlapping post spikes)


@pytest.mark.skipif(not lava_available(), reason="rule strings are parsed by Lava's parser")
def test_reward_events_in_the_image():
    pr = SimpleNamespace(plasticity=dict(P, reward_value=-2.0), delay=np.ones(1, int), n_synapses=1)
    _, learning, arrays, rep = _rstdp_loihi3f(pr, {}, 850.0, 1, 255, 1.0, "p")
    assert arrays["third_factor_step"].tolist() == [4, 5] and (arrays["third_factor_value"] == -64).all()
    assert (arrays["third_factor_post"] == -1).all()
