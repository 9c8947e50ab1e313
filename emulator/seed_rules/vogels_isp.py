"""Integer inhibitory STDP with a target rate (seed 004, Vogels et al. 2011).

Float rule: :mod:`neuromap.plasticity.vogels_isp`. The engine learns the inhibitory
*magnitude* J = ``sign * weight`` (``learning["sign"] = -1`` for an inhibitory projection).
Integer state, per step t (1-based):

- traces ``x_pre`` per synapse, ``x_post`` per post neuron: unsigned 16 bit, ``XF = 12``
  fraction bits (one spike = 4096), saturating at 65535; every step
  ``x <- round(x * keep / 2**16)`` (round half up), then +4096 per own spike
  (pre: spikes reaching the synapse; the post trace read by (V1) is the one *before* this
  step's post spikes);
- ``d = [pre arrived] (x_post_before - alpha) + [post spiked] x_pre`` in trace units, with
  ``alpha = round(2**12 * 2 rho0 tau_stdp / 1000)``;
- additive: ``w_fine += round(eta * d / 2**12)``, ``eta`` in fine-weight units per spike
  (``eta_float * weight scale * 2**WF``);
  multiplicative (``f(J) = J``): ``w_fine += round(eta_m * d * w_fine / 2**(12 + 16))``,
  ``eta_m = round(2**16 eta_float)``;
- clip to ``[w_lo, w_hi]`` mantissas; the core sees ``round(w_fine / 2**WF)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.seed_rules.fixed import AF, TRACE_MAX, XF, Synapses, decay_trace, rshift_round


@dataclass
class State:
    syn: Synapses
    x_pre: np.ndarray        # int64 per synapse, XF fixed point
    x_post: np.ndarray       # int64 per post neuron
    engine: str = "numpy"    # emulator engine (use_engine); "numba" runs vogels_isp_numba
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def use_engine(st: State, engine: str) -> None:
    st.engine = engine


def make_state(learning: dict, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    return State(Synapses(learning, n_pre, pre_idx, post_idx), np.zeros(len(pre_idx), np.int64), np.zeros(n_post, np.int64))


def step(learning: dict, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    if st.engine == "numba":
        from emulator.seed_rules import vogels_isp_numba
        from emulator.seed_rules.packing import step_one
        return step_one(vogels_isp_numba, learning, st, weights, pre_spikes, post_spikes, t)
    syn = st.syn
    arrived = syn.begin(weights, pre_spikes, t)
    keep = int(learning["keep"])
    decay_trace(st.x_pre, keep)
    decay_trace(st.x_post, keep)
    post_before = st.x_post[syn.post_idx]
    one = 1 << XF
    st.x_pre[arrived] = np.minimum(st.x_pre[arrived] + one, TRACE_MAX)
    st.x_post[post_spikes] = np.minimum(st.x_post[post_spikes] + one, TRACE_MAX)
    d = np.where(arrived, post_before - int(learning["alpha"]), 0)
    d += np.where(post_spikes[syn.post_idx], st.x_pre, 0)
    if learning["multiplicative"]:
        syn.w_fine += rshift_round(int(learning["eta_m"]) * d * syn.w_fine, XF + AF)
    else:
        syn.w_fine += rshift_round(int(learning["eta"]) * d, XF)
    syn.codec.store(syn.w_fine, weights)
