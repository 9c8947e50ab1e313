"""Integer receptor-pool-bounded STDP (seed 000, Nikitin et al. 2019).

Float rule and equation labels (P1)-(P17): :mod:`neuromap.plasticity.pool_stdp`. Units:

- weights, pools, pot/dep/use/degr/supply/prod: fine-weight units (mantissa * 2**WF, WF = 16);
  pools ``pw`` (dendrite) and ``pw_soma`` are int64 saturated to ``0..POOL_MAX = 2**36 - 1``;
- calcium ``c_dend``, ``c_soma``: the float model's calcium with ``CF = 12`` fraction bits,
  saturated to ``0..c_max`` (the end of the compiler's tables);
- STDP traces ``x_pre`` (per synapse) and ``y_post`` (per post neuron): ``XF = 12`` fraction
  bits, set to 4096 at a spike (nearest-spike), ``x <- round(x * keep / 2**16)`` per step;
- coefficients a_plus, a_minus, alpha_r, k_pw, alpha_ss: ``AF = 16`` fraction bits;
- ``S`` (P7) from table ``s_lut`` (SF = 16 fraction bits), ``decay(C)`` (P14) from ``decay_lut``
  (calcium units), soma production (P11, functional or secretion) from ``prod_lut`` (fine-weight
  units per step); all indexed by calcium every 2**-8 with linear interpolation.

Per step (every right-hand side from the values at the start of the step; round half up unless stated):

  x      = [arrived] w;  x_sum = sum x                                          (P1)
  pot    = [post spiked] round((w_hi - w) a_plus x_pre / 2**28)                 (P2, P3)
  dep    = [arrived]     round((w - w_lo) a_minus y_post / 2**28)
  cap    if sum pot > max(pw, 0): pot <- floor(pot * max(pw, 0) / sum pot)       (P4: never exceeds the pool)
  use    = sum pot - round(alpha_r sum dep / 2**16)                             (P5)
  degr   = round(k_pw x_sum / 2**16)                                            (P6)
  want   = -round(S(c_dend) (pw - use - degr - pw_set) / 2**16); demand = max(want, 0)   (P7, P8)
  supply = min(demand, pw_soma)                                                 (P9)
  pw     <- pw + supply - use - degr  (conserve) | pw + (supply if demand > 0 else -use - degr) (P10)
  pw_soma<- pw_soma - supply + prod(c_soma)                                     (P11)
  ratio  = floor(goal * 2**16 / sum w)  (2**16 if sum w = 0); 1 - ratio saturated at -15
  ss     = round(alpha_ss w (2**16 - ratio) / 2**32)                            (P16)
  w      <- clip(w + pot - dep - round(k_pw x / 2**16) - ss, w_lo, w_hi)          (P15, P17)
  c_dend <- c_dend + round(x_sum c_per_w / 2**32) - decay(c_dend)               (P12)
  c_soma <- c_soma + k_cg [post spiked] - decay(c_soma)                         (P13)

``goal`` is ``learning["w_goal"]`` (fine units) or, when 0, each post neuron's initial sum.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.seed_rules.fixed import AF, XF, Synapses, decay_trace, lut_interp, rshift_round, seg_sum

CF = 12
SF = 16
RF = 16
CS = 32
POOL_MAX = (1 << 36) - 1


@dataclass
class State:
    syn: Synapses
    n_post: int
    x_pre: np.ndarray
    y_post: np.ndarray
    pw: np.ndarray
    pw_soma: np.ndarray
    c_dend: np.ndarray
    c_soma: np.ndarray
    s_lut: np.ndarray
    decay_lut: np.ndarray
    prod_lut: np.ndarray
    c_max: int
    goal: np.ndarray | None = None
    engine: str = "numpy"    # emulator engine (use_engine); "numba" runs pool_stdp_numba
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def use_engine(st: State, engine: str) -> None:
    st.engine = engine


def make_state(learning: dict, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    luts = {k: np.asarray(arrays[k], np.int64) for k in ("s_lut", "decay_lut", "prod_lut")}
    c_max = (luts["decay_lut"].shape[0] - 1) << (CF - 8)
    return State(Synapses(learning, n_pre, pre_idx, post_idx), n_post, np.zeros(len(pre_idx), np.int64),
                 np.zeros(n_post, np.int64), np.full(n_post, int(learning["pw_init"]), np.int64),
                 np.full(n_post, int(learning["pw_soma_init"]), np.int64), np.zeros(n_post, np.int64),
                 np.zeros(n_post, np.int64), luts["s_lut"], luts["decay_lut"], luts["prod_lut"], c_max)


def step(learning: dict, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    if st.engine == "numba":
        from emulator.seed_rules import pool_stdp_numba
        from emulator.seed_rules.packing import step_one
        return step_one(pool_stdp_numba, learning, st, weights, pre_spikes, post_spikes, t)
    p, syn, n = learning, st.syn, st.n_post
    post = syn.post_idx
    arrived = syn.begin(weights, pre_spikes, t)
    w, lo, hi = syn.w_fine, syn.codec.lo, syn.codec.hi
    if st.goal is None:
        goal = int(p["w_goal"])
        st.goal = np.full(n, goal, np.int64) if goal > 0 else seg_sum(w, post, n)
    x = np.where(arrived, w, 0)                                                   # (P1)
    x_sum = seg_sum(x, post, n)

    decay_trace(st.x_pre, int(p["keep_plus"]))                                    # (P2, P3)
    decay_trace(st.y_post, int(p["keep_minus"]))
    st.x_pre[arrived] = 1 << XF
    pot = np.where(post_spikes[post], rshift_round((hi - w) * int(p["a_plus"]) * st.x_pre, AF + XF), 0)
    dep = np.where(arrived, rshift_round((w - lo) * int(p["a_minus"]) * st.y_post[post], AF + XF), 0)
    st.y_post[post_spikes] = 1 << XF

    pot_sum = seg_sum(pot, post, n)                                               # (P4)
    avail = np.maximum(st.pw, 0)
    over = pot_sum > avail
    if over.any():
        pot = np.where(over[post], pot * avail[post] // np.maximum(pot_sum[post], 1), pot)
        pot_sum = seg_sum(pot, post, n)
    use = pot_sum - rshift_round(int(p["alpha_r"]) * seg_sum(dep, post, n), AF)  # (P5)
    degr = rshift_round(int(p["k_pw"]) * x_sum, AF)                              # (P6)

    s = lut_interp(st.s_lut, st.c_dend, CF)                                      # (P7, P8)
    demand = np.maximum(-rshift_round(s * (st.pw - use - degr - int(p["pw_set"])), SF), 0)
    supply = np.minimum(demand, np.maximum(st.pw_soma, 0))                       # (P9)
    if p["pool_update"] == "conserve":                                           # (P10)
        pw_new = st.pw + supply - use - degr
    else:
        pw_new = st.pw + np.where(demand > 0, supply, -use - degr)
    prod = lut_interp(st.prod_lut, st.c_soma, CF)                                # (P11)

    w_sum = seg_sum(w, post, n)                                                  # (P16)
    one = 1 << RF
    ratio = np.where(w_sum > 0, (st.goal << RF) // np.maximum(w_sum, 1), one)
    one_minus = np.maximum(one - ratio, -15 * one)
    ss = rshift_round(int(p["alpha_ss"]) * w * one_minus[post], AF + RF)
    w += pot - dep - rshift_round(int(p["k_pw"]) * x, AF) - ss                  # (P15, P17)
    syn.codec.store(w, weights)

    st.pw = np.clip(pw_new, 0, POOL_MAX)
    st.pw_soma = np.clip(st.pw_soma - supply + prod, 0, POOL_MAX)
    c_in = rshift_round(x_sum * int(p["c_per_w"]), CS)                           # (P12, P13)
    st.c_dend = np.clip(st.c_dend + c_in - lut_interp(st.decay_lut, st.c_dend, CF), 0, st.c_max)
    st.c_soma = np.clip(st.c_soma + int(p["k_cg"]) * post_spikes - lut_interp(st.decay_lut, st.c_soma, CF),
                        0, st.c_max)
