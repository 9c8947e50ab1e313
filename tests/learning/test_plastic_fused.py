"""Compiled seed-rule learning: each engine's numba kernel (its one implementation) == its scalar oracle
(tests/oracles/seed_rules.py) every step on random spikes, in every synapse layout and at the clip edges; and
the fused numba time loop (emulator/plastic_numba.py: many projections per group, gathers, write-back) == the
per-step path (one projection per kernel call), bit for bit."""

import numpy as np
import pytest

from neuromap.learning_engines import homeostatic_stdp, vogels_isp
from tests.oracles.seed_rules import ENGINES as ORACLES

HOMEO = dict(engine="homeostatic_stdp", sign=1, delay=1, w_lo=0, w_hi=200, keep_plus=62340, keep_minus=64453,
             a_plus=103732, a_minus=34232, homeostasis=False)


def _luts(rng, window, big):
    """k/h tables (KF = 30) of length window + 1; ``big`` drives the weights to both clip edges."""
    s = 1 << (29 if big else 24)
    return {"k_lut": rng.integers(0, s, window + 1).astype(np.int64),
            "h_lut": rng.integers(-s, s // 4, window + 1).astype(np.int64)}


def _cases():
    out = []
    for delay in (0, 1, 3):
        out.append(("nn", dict(HOMEO, delay=delay), {}))
        out.append(("nn-sat", dict(HOMEO, delay=delay, a_plus=40 << 16, a_minus=30 << 16, w_lo=20, w_hi=120), {}))
        for big in (False, True):
            out.append(("homeo", dict(HOMEO, delay=delay, homeostasis=True, window=7), big))
    out.append(("inh-nn", dict(HOMEO, sign=-1, w_lo=5, w_hi=90), {}))
    for mult in (False, True):
        for delay in (0, 2):
            out.append(("vogels", dict(engine="vogels_isp", sign=-1, delay=delay, w_lo=0, w_hi=255, keep=60000,
                                       alpha=700, multiplicative=mult, eta=3 << 16, eta_m=9000), {}))
    # multiplicative, away from both clip edges (a saturated weight hides the step's rounding)
    out.append(("vogels-mid", dict(engine="vogels_isp", sign=-1, delay=1, w_lo=1, w_hi=255, keep=60000,
                                   alpha=2500, multiplicative=True, eta=0, eta_m=60), {}))
    out.append(("vogels-sat", dict(engine="vogels_isp", sign=1, delay=1, w_lo=10, w_hi=60, keep=65535,
                                   alpha=100, multiplicative=False, eta=40 << 16, eta_m=0), {}))
    return out


def _drive(mod, learning, arrays, seed, steps=300, order="any", v_range=None):
    """The engine's step (its kernel) and its scalar oracle on the same random spikes; asserts equal stored
    weights every step; returns (weights per step, state, oracle). ``order``: "any" (80 % of all-to-all,
    reversed pre order), "pre" / "post" (all-to-all, pre- / post-major); ``v_range``: (lo, hi) of random post v
    (engines that read v), else 0."""
    rng = np.random.default_rng(seed)
    n_pre, n_post = 7, 4
    pre_idx = np.repeat(np.arange(n_pre), n_post)[::-1].copy()        # all-to-all, shuffled order
    post_idx = np.tile(np.arange(n_post), n_pre)
    keep = rng.random(pre_idx.size) < 0.8
    pre_idx, post_idx = pre_idx[keep], post_idx[keep]
    if order == "pre":
        pre_idx, post_idx = np.repeat(np.arange(n_pre), n_post), np.tile(np.arange(n_post), n_pre)
    elif order == "post":
        pre_idx, post_idx = np.tile(np.arange(n_pre), n_post), np.repeat(np.arange(n_post), n_pre)
    w = rng.integers(int(learning["w_lo"]), int(learning["w_hi"]) + 1, pre_idx.size).astype(np.int32)
    w *= int(learning["sign"])
    st = mod.make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx)
    oracle = ORACLES[learning["engine"]](learning, arrays, pre_idx.tolist(), post_idx.tolist(), n_pre, n_post)
    w_oracle = w.tolist()
    hist = []
    for t in range(1, steps + 1):
        pre = rng.random(n_pre) < 0.15
        post = rng.random(n_post) < 0.2
        v = rng.integers(*v_range, n_post) if v_range else np.zeros(n_post, np.int64)
        mod.step(learning, st, w, pre, post, t, v)
        oracle.step(w_oracle, pre.tolist(), post.tolist(), t, v.tolist())
        assert w.tolist() == w_oracle, (learning["engine"], t)
        # the fine weights too, every step: a weight at a clip edge hides the rounding of its update
        assert st.syn.w_fine.tolist() == oracle.w, (learning["engine"], t)
        hist.append(w.copy())
    assert st.syn.w_fine.tolist() == oracle.w
    return np.array(hist), st, oracle


@pytest.mark.parametrize("case", range(len(_cases())))
def test_kernel_equals_oracle(case):
    name, learning, big = _cases()[case]
    mod = vogels_isp if learning["engine"] == "vogels_isp" else homeostatic_stdp
    arrays = _luts(np.random.default_rng(case), learning["window"], big) if learning.get("homeostasis") else {}
    a, _, _ = _drive(mod, learning, arrays, case)
    lo, hi = int(learning["w_lo"]), int(learning["w_hi"])
    if "sat" in name or big is True:                      # the case reaches a clip edge
        mag = np.abs(a)
        assert (mag == lo).any() or (mag == hi).any(), name
    assert len({tuple(r) for r in a}) > 5                 # weights actually learn


@pytest.mark.parametrize("order", ["pre", "post"])
@pytest.mark.parametrize("case", [k for k, c in enumerate(_cases()) if c[1]["engine"] == "homeostatic_stdp"])
def test_kernel_row_layouts_equal_oracle(case, order):
    """All-to-all projections run as contiguous rows (homeostatic_stdp.PRE_MAJOR / POST_MAJOR)."""
    from neuromap.learning_engines import homeostatic_stdp as hn
    name, learning, big = _cases()[case]
    arrays = _luts(np.random.default_rng(case), learning["window"], big) if learning.get("homeostasis") else {}
    a, sb, oracle = _drive(homeostatic_stdp, learning, arrays, case, order=order)
    assert sb.nb[6][0, hn.PARAMS.index("layout")] == (hn.PRE_MAJOR if order == "pre" else hn.POST_MAJOR)
    assert sb.ltp.tolist() == oracle.ltp, name
    assert len({tuple(r) for r in a}) > 5


# ------------------------------------------------------------------ fused loop == per-step path
LIF = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
STDP = dict(tau_plus=20.0, tau_minus=60.0, A_plus=0.05, A_minus=0.02, w_min=0.0, w_max=3.0)


def _net(seed, rules):
    import neuromap
    rng = np.random.default_rng(seed)
    net = neuromap.Network(name="fused", dt=1.0, seed=seed)
    net.add_population("X", 10, "poisson", rate={"linspace": [20.0, 100.0]})
    times = [sorted(rng.choice(np.arange(1.0, 400.0), 12, replace=False).tolist()) for _ in range(4)]
    net.add_population("S", 4, "spike_source", times=times)
    net.add_population("E", 6, "lif", **LIF)
    net.add_population("I", 3, "lif", **dict(LIF, refractory=0))
    plastic = {"nn": {"rule": "nn_stdp", **STDP},
               "homeo": {"rule": "homeostatic_stdp", **STDP, "alpha": 0.1, "beta": 1.0, "gamma": 50.0,
                         "Rtarget": 20.0, "T": 50.0},
               "isp": {"rule": "vogels_isp", "eta": 5e-2, "rho0": 5.0, "tau_stdp": 20.0, "w_min": 0.0, "w_max": 3.0},
               "pool": {"rule": "pool_stdp", "a_plus": 0.05, "a_minus": 0.05, "tau_plus": 5.0, "tau_minus": 5.0,
                        "w_min": 0.0, "w_max": 3.0, "pw_init": 0.5, "pw_set": 0.3, "alpha_r": 0.5, "k_pw": 0.05,
                        "alpha_s": 1.0, "beta_s": 0.5, "alpha_c": 0.2, "beta_c": 1.0, "gamma_c": 0.2, "k_cg": 0.5,
                        "soma_mode": "functional", "g_soma": 0.01, "pw_soma_init": 0.1, "alpha_ss": 0.01,
                        "w_goal_sum": 6.0}}
    net.connect("X", "E", {"rule": "fixed_probability", "p": 0.6}, weight={"uniform": [0.5, 2.5]}, delay=1,
                target="exc", plasticity=plastic[rules[0]])
    net.connect("S", "E", "all_to_all", weight={"uniform": [0.5, 2.5]}, delay=2, target="exc",
                plasticity=plastic[rules[1]])
    net.connect("E", "I", "all_to_all", weight=1.5, delay=3, target="exc")
    net.connect("I", "E", "all_to_all", weight={"uniform": [0.05, 0.5]}, delay=1, target="inh",
                plasticity=plastic[rules[2]] if len(rules) > 2 else None)
    return net


def _compare(img, steps, every):
    from emulator import plastic_numba
    from emulator.plastic import emulate_plastic
    probe = np.arange(img.n_neurons, dtype=np.int64)
    calls = []
    orig = plastic_numba.emulate_fused
    plastic_numba.emulate_fused = lambda *a: calls.append(1) or orig(*a)
    try:
        a = emulate_plastic(img, steps, "numba", probe, every)
    finally:
        plastic_numba.emulate_fused = orig
    b = emulate_plastic(img, steps, "numpy", probe, every)
    assert calls == [1]                                  # the fused loop ran
    assert np.array_equal(a[0], b[0])                    # spikes
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])     # u, v
    assert np.array_equal(a[3].ring, b[3].ring) and np.array_equal(a[3].link_spikes, b[3].link_spikes)
    assert np.array_equal(a[4].weight_steps, b[4].weight_steps)
    assert a[4].weights.keys() == b[4].weights.keys()
    for k in a[4].weights:
        assert np.array_equal(a[4].weights[k], b[4].weights[k]), k
    return a, b


@pytest.mark.parametrize("seed,rules,neg_exp", [(1, ("nn", "homeo", "isp"), False), (2, ("homeo", "nn"), False),
                                                 (3, ("nn", "nn", "isp"), False), (4, ("homeo", "nn", "isp"), True),
                                                 (5, ("pool", "homeo", "isp"), False),
                                                 (6, ("nn", "pool", "isp"), False)])
def test_fused_loop_equals_numpy_path(seed, rules, neg_exp):
    import dataclasses

    from neuromap.toolchain import compile_network
    img = compile_network(_net(seed, rules), "loihi").image
    if neg_exp:        # plastic X->E and static E->I deliver raw weights through dendrite slots (weight_exp < 0)
        img.projections = [dataclasses.replace(pm, weight_exp=-1) if k in (0, 2) else pm
                           for k, pm in enumerate(img.projections)]
    a, b = _compare(img, 600, 37)
    assert np.sum(a[0][:, 1] < img.n_neurons) > 40      # the network is active
    w = a[4].weights
    assert any(not np.array_equal(v[0], v[-1]) for v in w.values())    # and learns


def test_fused_loop_equals_numpy_path_on_the_ramp():
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    import ramp_lif

    from neuromap.toolchain import compile_network
    img = compile_network(ramp_lif.build(), "loihi").image
    a, _ = _compare(img, 3000, 500)
    assert a[4].weight_steps.tolist() == [499, 999, 1499, 1999, 2499, 2999]


# ------------------------------------------------------------------ pool_stdp kernel == oracle
POOL = dict(engine="pool_stdp", sign=1, delay=1, w_lo=0, w_hi=100, keep_plus=52000, keep_minus=56000,
            a_plus=1 << 15, a_minus=1 << 14, alpha_r=1 << 15, k_pw=1 << 10, alpha_ss=3000,
            pw_init=30 << 16, pw_soma_init=50 << 16, pw_set=20 << 16, w_goal=0, k_cg=600, c_per_w=1 << 14,
            pool_update="conserve")


def _pool_cases():
    return [dict(POOL), dict(POOL, delay=0, pool_update="literal"),
            dict(POOL, delay=3, w_goal=100000 << 16, alpha_ss=300),                      # ratio clamps at 16
            dict(POOL, sign=-1, w_lo=5, w_hi=90, pw_init=2 << 16, pw_soma_init=0),       # pool cap binds
            dict(POOL, alpha_ss=60000, a_plus=1 << 17, pw_init=400 << 16)]               # scaling, saturation


@pytest.mark.parametrize("order", ["any", "pre"])
@pytest.mark.parametrize("case", range(5))
def test_pool_kernel_equals_oracle(case, order):
    """pool_stdp's kernel == the scalar oracle: weights every step and the whole state at the end."""
    from neuromap.learning_engines import pool_stdp
    learning = _pool_cases()[case]
    rng = np.random.default_rng(case)
    n = 65                                                    # tables: calcium every 2**-8, c_max = 64 << 4
    arrays = {"s_lut": rng.integers(0, 1 << 17, n), "decay_lut": np.sort(rng.integers(0, 40, n)),
              "prod_lut": rng.integers(0, 1 << 14, n)}
    a, sa, oracle = _drive(pool_stdp, learning, arrays, case, order=order)
    for f in ("x_pre", "y_post", "pw", "pw_soma", "c_dend", "c_soma", "goal"):
        assert getattr(sa, f).tolist() == getattr(oracle, f), f
    assert len({tuple(r) for r in a}) > 5                     # weights actually learn
    assert sa.c_dend.any() and sa.pw.any()


# ------------------------------------------------------------------ clopath kernel == oracle
CLO = dict(engine="clopath", sign=1, delay=1, w_lo=0, w_hi=200, v_shift=2, delay_u=0, theta_plus=60,
           theta_minus=3000, u_init=500, keep_minus=52000, keep_plus=60000, keep_x=61000, ltd_m=40000, ltd_sh=14,
           ltp_m=50000, ltp_sh=17)


def _clopath_cases():
    return [dict(CLO), dict(CLO, delay=0, delay_u=3, v_shift=0, theta_plus=250, theta_minus=60000),
            dict(CLO, delay=2, delay_u=1, sign=-1, w_lo=10, w_hi=90),
            dict(CLO, keep_x=65536, ltp_sh=11, ltd_sh=8, w_hi=255),                      # saturation, clip edges
            dict(CLO, v_shift=5, theta_plus=-3, theta_minus=-200, u_init=-900, keep_minus=0, keep_plus=65536)]


@pytest.mark.parametrize("order", ["any", "post"])
@pytest.mark.parametrize("case", range(5))
def test_clopath_kernel_equals_oracle(case, order):
    """clopath's kernel on random pre/post spikes and random post v == the scalar oracle every step; u-, u+
    rings and xbar at the end."""
    from neuromap.learning_engines import clopath
    learning = _clopath_cases()[case]
    a, st, oracle = _drive(clopath, learning, {}, case, order=order, v_range=(-2000, 4000))
    assert st.xbar.tolist() == oracle.xbar
    assert len({tuple(r) for r in a}) > 5                     # weights actually learn
