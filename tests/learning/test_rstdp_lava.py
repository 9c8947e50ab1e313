"""Three-factor learning against Lava 0.10.0: Lava's own ``RewardModulatedSTDP`` on a ``LearningDense`` into the
bit-accurate third-factor LIF, fed random pre spikes and a random third factor, read every step; the ``loihi3f``
engine (numpy and numba) gets the same pre spikes, Lava's post spikes and the same third factor and must give the
same weights, eligibility tags (tag_1), traces and spike times after every step.

The third-factor LIF (``backends/lava/procs/third_factor_lif.py``) is checked against the known values of Lava's
own R-STDP tests (tests/lava/proc/dense/test_stdp_sim.py, ``TestRSTDPSimBitApproximate``: reward through a
``Dense`` into ``a_third_factor_in``)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backends.lava.compat import lava_available
from tests.helpers.loihi_learning import SETTINGS
from tests.helpers.rstdp import VARS, connect_traces, engine_run, lava_run

pytestmark = pytest.mark.lava
if not lava_available():
    pytest.skip("lava-nc not installed", allow_module_level=True)


@st.composite
def cases(draw):
    n_pre, n_post = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    T = draw(st.integers(12, 30))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    p = dict(learning_rate=draw(st.sampled_from([1, 0.5, 2])),
             A_plus=draw(st.sampled_from([4, 2, 1.5, 0.25, -1])),
             A_minus=draw(st.sampled_from([-2, -4, -0.5, 1])),
             pre_trace_decay_tau=draw(st.sampled_from([4, 10, 20.5])),
             post_trace_decay_tau=draw(st.sampled_from([3, 10, 16.5])),
             pre_trace_kernel_magnitude=draw(st.sampled_from([16, 20, 12.25, 60])),
             post_trace_kernel_magnitude=draw(st.sampled_from([16, 20, 7.5, 60])),
             eligibility_trace_decay_tau=draw(st.sampled_from([0.5, 2.4, 0.125, 1])),
             t_epoch=draw(st.integers(1, 3)), rng_seed=draw(st.integers(0, 1000)))
    pre = rng.random((T, n_pre)) < draw(st.sampled_from([0.1, 0.3, 0.6]))
    reward = np.where(rng.random((T, n_post)) < 0.25, rng.integers(-200, 300, (T, n_post)), 0)
    w0 = rng.integers(-120, 120, (n_post, n_pre))
    lif = dict(du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)), vth=int(rng.integers(20, 200)),
               bias_mant=rng.integers(0, 4000, n_post))
    return p, w0, pre, reward, lif


def _check(case):
    p, w0, pre, reward, lif = case
    lava, post = lava_run(p, w0, pre, reward, lif)
    mine = engine_run(p, w0, pre, post, reward)
    for t in range(len(pre)):
        for v in VARS:
            assert np.array_equal(mine[v][t], lava[v][t]), ("step", t + 1, v, mine[v][t], lava[v][t])


@settings(max_examples=2, **SETTINGS)
@given(cases())
def test_rstdp_matches_lava(case):
    _check(case)


@pytest.mark.slow
@settings(max_examples=30, **{**SETTINGS, "derandomize": False})
@given(cases())
def test_rstdp_matches_lava_sweep(case):
    _check(case)


def _lava_known_value(kw, pre_bias, post_bias, vth, reward_value, w0):
    """Lava's own R-STDP known-value network, with the third-factor LIF as the post neuron."""
    from backends.lava.compat import import_lava
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense, LearningDense
    from lava.proc.io.source import RingBuffer
    from lava.proc.learning_rules.r_stdp_learning_rule import RewardModulatedSTDP
    from lava.proc.lif.process import LIF

    from backends.lava.procs.third_factor_lif import ThirdFactorLIF
    n_post, n_pre = w0.shape
    steps = 100
    rule = RewardModulatedSTDP(**kw)
    lif0 = LIF(shape=(n_pre,), du=0, dv=0, vth=vth, bias_mant=pre_bias)
    dense = LearningDense(weights=w0, learning_rule=rule)
    lif1 = ThirdFactorLIF(shape=(n_post,), du=0, dv=0, vth=vth, bias_mant=post_bias, learning_rule=rule,
                          post_impulse=kw["post_trace_kernel_magnitude"], post_tau=kw["post_trace_decay_tau"])
    r = np.zeros((n_post, steps))
    r[:, steps // 3: steps // 2] = reward_value
    rew, rc = RingBuffer(data=r), Dense(weights=np.eye(n_post))
    rew.s_out.connect(rc.s_in)
    rc.a_out.connect(lif1.a_third_factor_in)
    lif0.s_out.connect(dense.s_in)
    dense.a_out.connect(lif1.a_in)
    connect_traces(lif1, dense)
    try:
        lif0.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return dense.weights.get()
    finally:
        lif0.stop()


def test_third_factor_lif_reproduces_lavas_known_value():
    kw = dict(learning_rate=1, A_plus=4, A_minus=-2, pre_trace_decay_tau=10, post_trace_decay_tau=10,
              pre_trace_kernel_magnitude=16, post_trace_kernel_magnitude=16, eligibility_trace_decay_tau=0.5,
              t_epoch=1, rng_seed=0)
    assert np.array_equal(_lava_known_value(kw, 3600, 3700, 100, 250, np.eye(1)), [[64]])


@pytest.mark.slow
def test_third_factor_lif_reproduces_lavas_known_value_multi_synapse():
    kw = dict(learning_rate=1, A_plus=4, A_minus=-2, pre_trace_decay_tau=10, post_trace_decay_tau=10,
              pre_trace_kernel_magnitude=20, post_trace_kernel_magnitude=20, eligibility_trace_decay_tau=2.4,
              t_epoch=1, rng_seed=0)
    w = _lava_known_value(kw, np.array([1900, 2500, 1200]), np.array([2400, 1600]), 90, 16, np.zeros((2, 3)))
    assert np.array_equal(w, [[2, 1, -1], [15, 20, 9]])
