"""The ``loihi3f`` engine (its numba kernels, the one implementation) against the scalar oracle of
tests/oracles/loihi3f.py (written from docs/learning.md), every step, on random R-STDP parameters, spike trains and
third factors; and hand-checked steps of the rule (no reward: no weight change; the eligibility decays by tau_e
per epoch)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backends.lava.compat import lava_available
from tests.helpers.loihi_learning import SETTINGS
from tests.helpers.rstdp import config, engine_run
from tests.oracles.loihi3f import Oracle

if not lava_available():       # rule strings are parsed by Lava's parser
    pytest.skip("lava-nc not installed", allow_module_level=True)


@st.composite
def cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    n_pre, n_post, T = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(5, 60))
    p = dict(learning_rate=draw(st.sampled_from([1, 0.5, 2, 0.25])),
             A_plus=draw(st.sampled_from([4, 2, 1.5, 0.25, -1, 7])),
             A_minus=draw(st.sampled_from([-2, -4, -0.5, 1, -7])),
             pre_trace_decay_tau=draw(st.sampled_from([0, 2, 10, 20.5])),
             post_trace_decay_tau=draw(st.sampled_from([1, 3, 10, 16.5])),
             pre_trace_kernel_magnitude=draw(st.sampled_from([16, 20, 12.25, 60, 127])),
             post_trace_kernel_magnitude=draw(st.sampled_from([16, 20, 7.5, 60, 100])),
             eligibility_trace_decay_tau=draw(st.sampled_from([0.5, 2.4, 0.125, 1])),
             t_epoch=draw(st.integers(1, 4)), rng_seed=draw(st.integers(0, 1000)))
    pre = rng.random((T, n_pre)) < draw(st.sampled_from([0.1, 0.4, 0.8]))
    post = rng.random((T, n_post)) < draw(st.sampled_from([0.1, 0.4, 0.8]))
    reward = np.where(rng.random((T, n_post)) < 0.3, rng.integers(-300, 300, (T, n_post)), 0)
    w0 = rng.integers(-128, 128, (n_post, n_pre)) * 2          # truncated (mixed, 8 bits)
    return p, w0, pre, post, reward


def _oracle_run(p, w0, pre, post, reward):
    cfg, imp, tau = config(p)
    o = Oracle(cfg, imp, tau, w0.tolist(), lambda t, j: reward[t - 1, j])
    out = []
    for t in range(1, len(pre) + 1):
        o.step(pre[t - 1], post[t - 1], t)
        out.append({"weights": np.array(o.weights), "tag_1": np.array(o.tag_1), "x1": np.array([x[0] for x in o.x]),
                    "y1": np.array([y[0] for y in o.y]), "y2": np.array([y[1] for y in o.y]),
                    "tx": np.array(o.tx), "ty": np.array(o.ty)})
    return out


@settings(max_examples=25, **SETTINGS)
@given(cases())
def test_engine_matches_oracle(case):
    p, w0, pre, post, reward = case
    ref = _oracle_run(*case)
    mine = engine_run(p, w0, pre, post, reward)
    for t, r in enumerate(ref):
        for v, a in r.items():
            assert np.array_equal(mine[v][t], a), ("step", t + 1, v, mine[v][t], a)


def test_no_reward_no_weight_change_and_eligibility_decays():
    p = dict(learning_rate=1, A_plus=4, A_minus=-2, pre_trace_decay_tau=10, post_trace_decay_tau=10,
             pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16, eligibility_trace_decay_tau=0.5,
             t_epoch=1, rng_seed=0)
    T = 12
    pre = np.zeros((T, 1), bool)
    post = np.zeros((T, 1), bool)
    pre[1, 0] = True                        # pre at step 2, post at step 3: y0 * x1 potentiates the tag
    post[2, 0] = True
    run = engine_run(p, np.array([[10]]), pre, post, np.zeros((T, 1), np.int64))
    assert (run["weights"][:, 0, 0] == 10).all()
    tag = run["tag_1"][:, 0, 0]
    assert tag[1] == 0 and tag[2] > 0
    # tag loses tau_e = 1/2 of itself per epoch (u0 * t * 2^-1), stochastic rounding: within one unit of t / 2
    for a, b in zip(tag[2:-1], tag[3:]):
        assert abs(b - a / 2) <= 1
    reward = np.zeros((T, 1), np.int64)
    reward[3, 0] = 100                      # reward at step 4: dw = tag * y2 (scaled) > 0
    run = engine_run(p, np.array([[10]]), pre, post, reward)
    assert run["weights"][2, 0, 0] == 10 and run["weights"][3, 0, 0] > 10
