"""The integer seed learning engines (``homeostatic_stdp`` incl. ``nn_stdp``, ``vogels_isp``, ``pool_stdp``,
``clopath``) against their independent scalar oracles (tests/oracles/seed_rules.py, written from the
documented equations): hand-computed steps of each oracle, then whole plastic images on the emulator's
numpy engine (the per-step loop: each engine's kernel, one projection per call) and numba engine (the fused
plastic loop, clopath included) compared with the oracle every step: spikes, u and v of every neuron and the
stored weights of every plastic projection. Random networks, spike trains and image learning constants
(hypothesis, derandomized). The Lava side: tests/learning/test_lava_seed_rules.py."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from emulator import emulate
from neuromap.toolchain import compile_network
from tests.oracles import loihi_core
from tests.oracles.cases import RULES, plastic_net, with_learning
from tests.oracles.seed_rules import Clopath, HomeostaticStdp, PoolStdp, VogelsIsp

T, F = True, False


def drive(cls, learning, arrays, weights, pre, post, v=None, n_pre=None, n_post=1, pre_idx=None, post_idx=None):
    """Run an oracle over steps t = 1.. with per-step pre/post spike lists (and post v); returns (oracle, weights)."""
    w = list(weights)
    n_pre = n_pre or len(w)
    eng = cls(learning, arrays, pre_idx or list(range(len(w))), post_idx or [0] * len(w), n_pre, n_post)
    for t, (a, b) in enumerate(zip(pre, post), start=1):
        eng.step(w, a, b, t, v[t - 1] if v else [0] * n_post)
    return eng, w


# ------------------------------------------------------------------ hand-computed oracle steps
NN = dict(engine="homeostatic_stdp", sign=1, delay=1, w_lo=0, w_hi=200, keep_plus=32768, keep_minus=49152,
          a_plus=1001, a_minus=800, homeostasis=False)


def test_nn_stdp_oracle_by_hand():
    # t1: pre emits (arrives t2). t2: arrival sets ltp = 1001, decayed to 501 (500.5 up); the post spikes at
    # t2: last_post 2 >= last_pre 1 -> +501; ltd = 800 after the update. t3: ltp 251 (250.5 up) -> +251,
    # ltd 600. t4: pre emits again (last_pre 4 > last_post 2): ltp 126, ltd 450 -> -450.
    eng, w = drive(HomeostaticStdp, NN, {}, [100], [[T], [F], [F], [T]], [[F], [T], [F], [F]])
    assert eng.w == [(100 << 16) + 501 + 251 - 450] and eng.ltp == [126] and eng.ltd == [450] and w == [100]


def test_homeostatic_oracle_by_hand():
    # window 4, h_lut[1] = -1/4: while the t1 spike is in the window (t1..t4) w scales by 3/4 per step
    lrn = dict(NN, homeostasis=True, window=4)
    arrays = {"k_lut": [0] * 5, "h_lut": [0, -(1 << 28), 0, 0, 0]}
    eng, w = drive(HomeostaticStdp, lrn, arrays, [100], [[F]] * 5, [[T], [F], [F], [F], [F]])
    assert eng.w == [6553600 * 3 ** 4 // 4 ** 4] and w == [32]                 # 31.64 -> 32


def test_vogels_oracle_by_hand():
    # keep 1/2, alpha 1024 (1/4 spike), eta 1000 per spike. t1: post spike, pre emits. t2: x_post 2048,
    # arrival: d = 2048 - 1024 -> +250. t3: post spike: x_pre 2048 -> +500. t4: arrival, x_post 2560: +375
    isp = dict(engine="vogels_isp", sign=-1, delay=1, w_lo=0, w_hi=100, keep=32768, alpha=1024, eta=1000,
               multiplicative=False)
    eng, w = drive(VogelsIsp, isp, {}, [-50], [[T], [F], [T], [F]], [[T], [F], [T], [F]])
    assert eng.w == [(50 << 16) + 250 + 500 + 375] and w == [-50]
    assert eng.x_pre == [1024 + 4096] and eng.x_post == [2560]


def pool_learning(**kw):
    return {**dict(engine="pool_stdp", sign=1, delay=1, w_lo=0, w_hi=100, keep_plus=32768, keep_minus=32768,
                   a_plus=1 << 15, a_minus=1 << 14, alpha_r=1 << 15, k_pw=1 << 12, alpha_ss=0, pw_init=10 << 16,
                   pw_soma_init=0, pw_set=0, w_goal=0, k_cg=4096, c_per_w=1 << 16, pool_update="conserve"), **kw}


def flat(s=0, decay=0, prod=0, n=4097):
    return {"s_lut": [s] * n, "decay_lut": [decay] * n, "prod_lut": [prod] * n}


def test_pool_oracle_by_hand():
    # t2: both inputs arrive and the post spikes: pot = (100 - w)/2 = [30, 20] mantissas, 50 > pool 10
    # -> floor-scaled by 10/50 to [6, 4]; weights 40 + 6 - 40/16 = 43.5 -> 44, 60 + 4 - 60/16 = 60.25 -> 60
    eng, w = drive(PoolStdp, pool_learning(), flat(), [40, 60], [[T, T], [F, F]], [[F], [T]], n_pre=2)
    assert eng.w == [2850816, 3948544] and w == [44, 60] and eng.pw == [0]
    assert eng.c_dend == [100] and eng.c_soma == [4096]
    # S = -1/2: demand = pw/2, the soma supplies what it has; production and decay read the tables
    tables = flat(s=-(1 << 15))
    tables["prod_lut"] = [10 * i for i in range(4097)]
    tables["decay_lut"] = [2 * i for i in range(4097)]
    eng, _ = drive(PoolStdp, pool_learning(pw_init=1000, pw_soma_init=300, k_cg=40), tables, [40], [[F]] * 3,
                   [[T], [F], [F]], n_pre=1)
    assert eng.pw == [1325] and eng.pw_soma == [22] and eng.c_soma == [31]
    # synaptic scaling: goal / sum = 2 -> w += w/2; a huge goal saturates 1 - ratio at -15
    _, w = drive(PoolStdp, pool_learning(alpha_ss=1 << 15, k_pw=0, w_goal=200 << 16), flat(), [40, 60],
                 [[F, F]], [[F]], n_pre=2)
    assert w == [60, 90]
    _, w = drive(PoolStdp, pool_learning(alpha_ss=1 << 15, k_pw=0, w_goal=10 ** 6 << 16), flat(), [4, 6],
                 [[F, F]], [[F]], n_pre=2)
    assert w == [34, 51]


CLO = dict(engine="clopath", sign=1, delay=1, w_lo=0, w_hi=200, v_shift=2, delay_u=0, theta_plus=10 ** 4,
           theta_minus=10 ** 6, u_init=0, keep_minus=32768, keep_plus=49152, keep_x=32768, ltd_m=0, ltd_sh=0,
           ltp_m=0, ltp_sh=11)


def test_clopath_oracle_by_hand():
    # v = 400 -> vq = 100 -> 25600 u units; u- (keep 1/2): 12800, 19200; at the t2 arrival
    # ltd = (19200 - 5002) 3/4 = 10648.5 -> 10649
    eng, w = drive(Clopath, dict(CLO, theta_minus=5002, ltd_m=3, ltd_sh=2), {}, [100], [[T], [F]], [[F], [F]],
                   v=[[400], [400]])
    assert eng.w == [(100 << 16) - 10649] and w == [100] and eng.xbar == [1 << 20]
    # LTP: u+ = 6400, 11200, 14800; t2: xbar read as 4096, f = 20 11200 50000 / 2**11 = 5468750,
    # dw = 4096 f / 2**20 = 21362.3 -> 21362; t3: xbar 2048, f = 7226562.5 -> 7226563, dw 14114.26 -> 14114
    eng, w = drive(Clopath, dict(CLO, theta_plus=80, theta_minus=0, ltp_m=50000), {}, [100], [[T], [F], [F]],
                   [[F]] * 3, v=[[400]] * 3)
    assert eng.w == [(100 << 16) + 21362 + 14114] and w == [101]
    # delay_u 2: t1, t2 read u_init = 1000; t3 reads u-(t1) = (1000 + 25600) / 2 = 13300
    eng, _ = drive(Clopath, dict(CLO, delay_u=2, u_init=1000, theta_minus=0, ltd_m=1), {}, [100],
                   [[T], [T], [F]], [[F]] * 3, v=[[400]] * 3)
    assert eng.w == [(100 << 16) - 1000 - 13300]


@pytest.mark.parametrize("cls,learning,arrays", [
    (PoolStdp, pool_learning(delay=3, pw_init=1000 << 16, k_pw=0), flat()),
    (VogelsIsp, dict(engine="vogels_isp", sign=1, delay=3, w_lo=0, w_hi=100, keep=32768, alpha=0, eta=1 << 17,
                     multiplicative=False), {}),
    (HomeostaticStdp, dict(NN, delay=3, a_plus=1 << 18), {})])
def test_oracle_pre_spike_arrives_after_the_delay(cls, learning, arrays):
    """A pre spike emitted at t1 with delay 3 arrives at t4, where the post neuron spikes."""
    post = [[F], [F], [F], [T]]
    _, late = drive(cls, learning, arrays, [40], [[T], [F], [F], [F]], post, n_pre=1)
    _, none = drive(cls, learning, arrays, [40], [[F]] * 4, post, n_pre=1)
    _, short = drive(cls, dict(learning, delay=4), arrays, [40], [[T], [F], [F], [F]], post, n_pre=1)
    assert late[0] > 40 and none[0] == 40 and short[0] <= 40


# ------------------------------------------------------------------ whole images: emulator == oracle
STEPS = 60


def compare(img, steps: int, engines=("numpy", "numba")):
    """Every engine == the oracle at every step: spikes, u and v of every neuron, every plastic weight."""
    ref = loihi_core.run(img, steps)
    for engine in engines:
        got = emulate(img, steps, engine=engine, probe=np.arange(img.n_neurons), weight_every=1)
        assert np.array_equal(got.spikes, ref.spikes), engine
        assert np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v), engine
        assert got.weight_steps.tolist() == list(range(steps)), engine
        for k, w in ref.weights.items():
            bad = np.flatnonzero((got.weights[k] != w).any(axis=1))
            assert bad.size == 0, (engine, img.projections[k].name, int(bad[0]) if bad.size else None)
    return ref


def learned(img, ref, k) -> int:
    return int(np.count_nonzero(ref.weights[k][-1] != img.synapses["weight"][img.synapse_projections() == k]))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_compiled_rule_equals_oracle_every_step(rule):
    """The compiler's own constants, numpy (per-step loop) and numba (fused loop) engines."""
    img = compile_network(plastic_net([rule], seed=11), "loihi", placer="greedy").image
    ref = compare(img, STEPS)
    (k,) = [k for k, pm in enumerate(img.projections) if pm.learning]
    assert img.projections[k].learning["engine"] == (rule if rule != "nn_stdp" else "homeostatic_stdp")
    assert learned(img, ref, k) >= 1 and ref.spikes.shape[0] > 10


def test_all_rules_in_one_image_equal_oracle():
    """Every engine in one image (the fused loop runs all four kernels, clopath's reading v)."""
    img = compile_network(plastic_net(sorted(RULES), seed=5), "loihi", placer="greedy").image
    ref = compare(img, STEPS)
    assert sum(learned(img, ref, k) > 0 for k, pm in enumerate(img.projections) if pm.learning) >= 4


def random_image_equals_oracle(rules, seed, constants, steps):
    img = compile_network(plastic_net(rules, seed, steps=steps, inputs=(8, 16)), "loihi", placer="greedy").image
    if constants != "compiled":
        img = with_learning(img, np.random.default_rng(seed), edges=constants == "edges")
    compare(img, steps)


RANDOM_IMAGES = {"rules": st.lists(st.sampled_from(sorted(RULES)), min_size=1, max_size=3),
                 "seed": st.integers(0, 2 ** 31 - 1), "constants": st.sampled_from(["compiled", "random", "edges"])}


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(**RANDOM_IMAGES)
def test_random_plastic_images_equal_oracle(rules, seed, constants):
    """Compiled constants, random ones, and ones that put fine weights on the stored weights' rounding
    boundary (so one fine unit of rounding inside an engine shows in the stored weights)."""
    random_image_equals_oracle(rules, seed, constants, 120)


@pytest.mark.parametrize("rule", sorted(RULES))
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2 ** 31 - 1), constants=st.sampled_from(["compiled", "random", "edges"]))
def test_each_rule_on_larger_random_images_equals_oracle(rule, seed, constants):
    """One rule, 12-16 inputs onto 3-5 post neurons, 150 steps: enough synapse-steps for one fine unit of
    rounding inside an engine to reach a stored weight."""
    img = compile_network(plastic_net([rule], seed, steps=150, inputs=(12, 16), posts=(3, 5)), "loihi",
                          placer="greedy").image
    if constants != "compiled":
        img = with_learning(img, np.random.default_rng(seed), edges=constants == "edges")
    compare(img, 150)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(**RANDOM_IMAGES)
def test_random_plastic_images_equal_oracle_long(rules, seed, constants):
    """As above, 300 steps and more examples (rounding differences of one fine unit accumulate)."""
    random_image_equals_oracle(rules, seed, constants, 300)
