"""Integer seed-rule engines (neuromap/learning_engines): hand-computed steps, rounding and saturation edges,
through each engine's ``step`` (its numba kernel on one projection)."""
import numpy as np
import pytest

from neuromap.learning_engines import ENGINES, homeostatic_stdp, pool_stdp, vogels_isp
from neuromap.learning_engines.fixed import lut_interp, rshift_round

T, F = True, False
ONE = np.ones(1, np.int64)


def run(mod, learning, arrays, weights, pre, post, n_pre=None, n_post=1, pre_idx=None, post_idx=None):
    """Drive an engine over steps t = 1.. with lists of pre/post spike vectors; returns (state, weights)."""
    w = np.asarray(weights, np.int32)
    n_pre = n_pre or len(w)
    pre_idx = np.arange(len(w)) if pre_idx is None else np.asarray(pre_idx)
    post_idx = np.zeros(len(w), np.int64) if post_idx is None else np.asarray(post_idx)
    st = mod.make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx)
    for t, (a, b) in enumerate(zip(pre, post), start=1):
        mod.step(learning, st, w, np.asarray(a, bool), np.asarray(b, bool), t, np.zeros(n_post, np.int64))
    return st, w


def test_rounding_is_half_up_and_lut_interpolates():
    assert [rshift_round(x, 1) for x in (3, -3, 5, -5, 4)] == [2, -1, 3, -2, 2]
    assert rshift_round(7, 0) == 7
    tab = np.array([0, 10, 20, 40], np.int64)
    # 4 fraction bits above the 8 table bits: x = 40 -> entry 2 + 8/16 -> 20 + 10 * 0.5
    assert [lut_interp(tab, 0, 4, x, 12) for x in (0, 16, 40, 41, 48, 1000)] == [0, 10, 30, 31, 40, 40]
    assert {"pool_stdp", "homeostatic_stdp", "vogels_isp"} <= set(ENGINES)


# ------------------------------------------------------------------ nearest-neighbour / homeostatic STDP
NN = dict(engine="homeostatic_stdp", sign=1, delay=1, w_lo=0, w_hi=200, keep_plus=32768, keep_minus=49152,
          a_plus=1001, a_minus=800, homeostasis=False)


def test_nn_stdp_hand_computed():
    # t1: pre emits (arrives t2). t2: arrival sets ltp=1001 -> decays to 501 (500.5 rounds up); post
    # spikes at t2 -> causal, +501; ltd=800 after. t3: ltp 251 (250.5 up), ltd 600 -> causal +251.
    # t4: pre emits again (last_pre=4 > last_post=2): ltp 126, ltd 450 -> -450.
    st, w = run(homeostatic_stdp, NN, {}, [100], [[T], [F], [F], [T]], [[F], [T], [F], [F]])
    assert st.syn.w_fine.tolist() == [(100 << 16) + 501 + 251 - 450]
    assert st.ltp.tolist() == [126] and st.ltd.tolist() == [450]
    assert w.tolist() == [100]


def test_nn_stdp_saturates_at_w_hi_and_w_lo():
    big = dict(NN, a_plus=50 << 16, w_hi=120, keep_plus=65536)
    st, w = run(homeostatic_stdp, big, {}, [100], [[T], [F], [F]], [[F], [T], [T]])
    assert w.tolist() == [120] and st.syn.w_fine.tolist() == [120 << 16]
    dep = dict(NN, a_minus=90 << 16, keep_minus=65536, w_lo=30)
    st, w = run(homeostatic_stdp, dep, {}, [100], [[F], [T], [F], [F]], [[T], [F], [F], [F]])
    assert w.tolist() == [30]                                   # 100 - 90 clipped at w_lo


def test_homeostatic_term_uses_windowed_spike_count():
    # window 4; h_lut[1] = -0.25 (2**30 units): each step with one spike in the window scales w by 0.75
    learning = dict(NN, homeostasis=True, window=4)
    arrays = {"k_lut": np.zeros(5, np.int64), "h_lut": np.array([0, -(1 << 28), 0, 0, 0], np.int64)}
    st, w = run(homeostatic_stdp, learning, arrays, [100], [[F]] * 5, [[T], [F], [F], [F], [F]])
    # t1..t4: count 1 -> 6553600 * 0.75**4 = 2073600; t5: the spike left the window, count 0
    assert st.count.tolist() == [0]
    assert st.syn.w_fine.tolist() == [2073600] and w.tolist() == [32]      # 31.64 -> 32


def test_homeostatic_k_scales_stdp():
    learning = dict(NN, homeostasis=True, window=10)
    arrays = {"k_lut": np.array([0, 1 << 29] + [0] * 9, np.int64), "h_lut": np.zeros(11, np.int64)}
    st, _ = run(homeostatic_stdp, learning, arrays, [100], [[T], [F]], [[F], [T]])
    assert st.syn.w_fine.tolist() == [(100 << 16) + 251]            # K = 0.5: round(501 / 2) = 251 (250.5 up)


# ------------------------------------------------------------------ Vogels ISP
ISP = dict(engine="vogels_isp", sign=-1, delay=1, w_lo=0, w_hi=100, keep=32768, alpha=1024, eta=1000,
           multiplicative=False)


def test_vogels_hand_computed():
    # t1: post spike (x_post 4096), pre emits (arrives t2). t2: x_post 2048, arrival: d = 2048 - 1024 -> +250.
    # t3: post spike: x_pre 2048 -> +500. t4: pre emitted at t3 arrives: x_post (2048+4096)/2 = 3072... see below
    st, w = run(vogels_isp, ISP, {}, [-50], [[T], [F], [T], [F]], [[T], [F], [T], [F]])
    # t3: x_post = 1024 + 4096 = 5120 after the spike; t4: x_post 2560, x_pre 1024 -> d = 2560 - 1024 = 1536 -> +375
    assert st.syn.w_fine.tolist() == [(50 << 16) + 250 + 500 + 375]
    assert w.tolist() == [-50]                                   # stored as an inhibitory (negative) mantissa
    assert st.x_pre.tolist() == [1024 + 4096] and st.x_post.tolist() == [2560]


def test_vogels_below_target_depresses_and_clips_at_zero():
    # pre spikes every step, post silent: d = -alpha each arrival -> magnitude shrinks to w_lo = 0
    learning = dict(ISP, eta=1 << 20)
    st, w = run(vogels_isp, learning, {}, [-3], [[T]] * 6, [[F]] * 6)
    assert w.tolist() == [0] and st.syn.w_fine.tolist() == [0]


def test_vogels_multiplicative_and_trace_saturation():
    learning = dict(ISP, multiplicative=True, eta_m=1 << 15, keep=65536)      # eta = 0.5, no decay
    st, w = run(vogels_isp, learning, {}, [-40], [[F]] * 20, [[T]] * 20)
    assert st.x_post.tolist() == [65535]                         # 16-bit trace saturates (20 spikes > 15.99)
    assert st.syn.w_fine.tolist() == [40 << 16]                      # no pre spikes: x_pre = 0, no change
    st, w = run(vogels_isp, learning, {}, [-40], [[T], [F]], [[F], [T]])
    # t2: arrival with x_post = 0: d = -1024 -> dw = 0.5 * (-0.25) * w; post spike: d = 4096 -> +0.5 w
    w1 = (40 << 16) + rshift_round((1 << 15) * (-1024 + 4096) * (40 << 16), 28)
    assert st.syn.w_fine.tolist() == [w1] and w.tolist() == [-rshift_round(w1, 16)]


def test_vogels_pre_trace_saturates_at_65535():
    # no decay, a pre spike arriving every step: 16 spikes would be 65536, the 16-bit trace holds 65535
    learning = dict(ISP, keep=65536, eta=0)
    st, _ = run(vogels_isp, learning, {}, [-40], [[T]] * 20, [[F]] * 20)
    assert st.x_pre.tolist() == [65535]
    st, _ = run(vogels_isp, learning, {}, [-40], [[T]] * 15, [[F]] * 15)
    assert st.x_pre.tolist() == [14 * 4096]                      # 14 arrivals (the first spike arrives at t2)


# ------------------------------------------------------------------ receptor-pool STDP
def pool_learning(**kw):
    base = dict(engine="pool_stdp", sign=1, delay=1, w_lo=0, w_hi=100, keep_plus=32768, keep_minus=32768,
                a_plus=1 << 15, a_minus=1 << 14, alpha_r=1 << 15, k_pw=1 << 12, alpha_ss=0,
                pw_init=10 << 16, pw_soma_init=0, pw_set=0, w_goal=0, k_cg=4096, c_per_w=1 << 16,
                pool_update="conserve")
    return {**base, **kw}


def flat_tables(s=0, decay=0, prod=0, n=4097):
    return {"s_lut": np.full(n, s, np.int64), "decay_lut": np.full(n, decay, np.int64),
            "prod_lut": np.full(n, prod, np.int64)}


def test_pool_caps_potentiation_at_the_pool():
    # t2: both inputs arrive, post spikes: pot = (100 - w)/2 = [30, 20] mantissas = 50 > pool 10
    # -> scaled by 10/50 with floor -> [6, 4]; use = 10, degr = 100/16 = 6.25 -> pool 10 - 10 - 6.25 -> 0
    # weights: 40 + 6 - 40/16 = 43.5 -> 44 (half up), 60 + 4 - 60/16 = 60.25 -> 60
    st, w = run(pool_stdp, pool_learning(), flat_tables(), [40, 60], [[T, T], [F, F]], [[F], [T]], n_pre=2)
    assert st.syn.w_fine.tolist() == [2850816, 3948544]
    assert w.tolist() == [44, 60]
    assert st.pw.tolist() == [0]
    assert st.c_dend.tolist() == [100] and st.c_soma.tolist() == [4096]   # x_sum 100 * 2**16 / 2**32 ; k_cg


def test_pool_large_pool_does_not_scale():
    st, w = run(pool_stdp, pool_learning(pw_init=1000 << 16), flat_tables(), [40, 60], [[T, T], [F, F]],
                [[F], [T]], n_pre=2)
    assert w.tolist() == [40 + 30 - 2, 60 + 20 - 4]              # 67.5 -> 68, 76.25 -> 76
    assert st.pw.tolist() == [(1000 << 16) - (50 << 16) - (100 << 16) // 16]


def test_pool_demand_supply_production_and_calcium_tables():
    # S = -0.5: demand = 0.5 pw; the soma supplies what it has; production and decay from tables
    tables = flat_tables(s=-(1 << 15))
    tables["prod_lut"] = 10 * np.arange(4097, dtype=np.int64)
    tables["decay_lut"] = 2 * np.arange(4097, dtype=np.int64)
    learning = pool_learning(pw_init=1000, pw_soma_init=300, k_cg=40)
    st, _ = run(pool_stdp, learning, tables, [40], [[F]] * 3, [[T], [F], [F]], n_pre=1)
    # t1: demand 500, supply 300 -> pw 1300, soma 0, c_soma 40. t2: supply 0, prod(40) = 25, c_soma 40 - 5.
    # t3: demand 650, supply 25 -> pw 1325; soma 25 - 25 + prod(35) = 22; c_soma 35 - decay(35) = 31
    assert st.pw.tolist() == [1325] and st.pw_soma.tolist() == [22] and st.c_soma.tolist() == [31]


def test_pool_synaptic_scaling_and_its_saturation():
    learning = pool_learning(alpha_ss=1 << 15, k_pw=0, w_goal=200 << 16)
    st, w = run(pool_stdp, learning, flat_tables(), [40, 60], [[F, F]], [[F]], n_pre=2)
    assert w.tolist() == [60, 90]                                 # goal/sum = 2: w += 0.5 w
    learning = pool_learning(alpha_ss=1 << 15, k_pw=0, w_goal=10 ** 6 << 16)
    st, w = run(pool_stdp, learning, flat_tables(), [4, 6], [[F, F]], [[F]], n_pre=2)
    assert w.tolist() == [34, 51]                                 # 1 - ratio saturates at -15: w += 7.5 w


def test_pool_goal_defaults_to_initial_sum_per_post_neuron():
    learning = pool_learning(alpha_ss=1 << 15, k_pw=0)
    st, w = run(pool_stdp, learning, flat_tables(), [40, 60, 10], [[F, F, F]], [[F, F]], n_pre=3, n_post=2,
                post_idx=[0, 0, 1])
    assert st.goal.tolist() == [100 << 16, 10 << 16] and w.tolist() == [40, 60, 10]


@pytest.mark.parametrize("mod", [pool_stdp, vogels_isp, homeostatic_stdp])
def test_pre_spikes_reach_the_synapse_after_the_delay(mod):
    """A pre spike emitted at t1 with delay 3 counts at t4 only (the post neuron spikes at t4)."""
    learning = {"pool_stdp": pool_learning(delay=3, pw_init=1000 << 16, k_pw=0),
                "vogels_isp": dict(ISP, delay=3, sign=1, alpha=0, eta=1 << 17),
                "homeostatic_stdp": dict(NN, delay=3, a_plus=1 << 18)}[mod.__name__.split(".")[-1]]
    tables = flat_tables() if mod is pool_stdp else {}
    post = [[F], [F], [F], [T]]
    _, w_late = run(mod, learning, tables, [40], [[T], [F], [F], [F]], post, n_pre=1)
    _, w_none = run(mod, learning, tables, [40], [[F], [F], [F], [F]], post, n_pre=1)
    _, w_short = run(mod, dict(learning, delay=4), tables, [40], [[T], [F], [F], [F]], post, n_pre=1)
    assert w_late[0] > 40 and w_none[0] == 40 and w_short[0] <= 40


def test_pool_calcium_saturates_at_the_end_of_the_tables():
    """c_dend and c_soma stop at c_max = (len(decay_lut) - 1) << 4, and the table read at c_max is its last entry
    (the decay there is decay_lut[-1])."""
    tables = flat_tables()
    tables["decay_lut"] = 2 * np.arange(4097, dtype=np.int64)
    c_max = 4096 << 4
    learning = pool_learning(c_per_w=1 << 40, k_cg=c_max, k_pw=0, pw_init=0)
    st, _ = run(pool_stdp, learning, tables, [40], [[T], [F], [F]], [[T], [T], [F]], n_pre=1)
    # t2: c_in = 40 * 2**16 * 2**40 / 2**32 >> c_max: saturated (c_soma: k_cg = c_max at t1, t2); t3 (no input):
    # c_max - decay_lut[4096] (the last entry)
    assert st.c_dend.tolist() == [c_max - 2 * 4096] and st.c_soma.tolist() == [c_max - 2 * 4096]
    st, _ = run(pool_stdp, learning, tables, [40], [[T], [F]], [[T], [T]], n_pre=1)
    assert st.c_dend.tolist() == [c_max] and st.c_soma.tolist() == [c_max]
