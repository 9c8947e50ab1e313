"""Integer homeostatic STDP (seed 003, Carlson et al. 2013), and plain nearest-neighbour STDP.

Float rule: :mod:`neuromap.plasticity.homeostatic_stdp` (and ``nn_stdp`` when
``learning["homeostasis"]`` is false). Integer state, per step t (1-based):

- ``ltp`` per synapse, ``ltd`` per post neuron: fine-weight units (weight mantissa * 2**WF);
  an arriving pre spike sets ``ltp = a_plus``; both decay every step,
  ``x <- round(x * keep / 2**16)`` (round half up); a post spike sets ``ltd = a_minus``
  *after* the weight update (ANNarchy's order).
- ``last_pre`` / ``last_post``: step of the neurons' last emitted spike (this step's included);
  ``stdp = ltp`` if ``last_post >= last_pre`` else ``-ltd``.
- rate estimate: ``count`` = the post neuron's spikes in the last ``window`` steps (int32,
  a 1-bit ring of ``window`` entries per neuron; ANNarchy's ``compute_firing_rate(T)``
  times T/1000 exactly).
- the rate-dependent factor and the homeostatic term come from compiler tables indexed by
  ``count`` (``KF = 30`` fraction bits): ``k_lut[c] = round(2**30 beta K(c))``,
  ``h_lut[c] = round(2**30 alpha (1 - R(c)/Rtarget) K(c))`` with ``R(c) = 1000 c / T`` Hz and
  ``K = R / (T (1 + |1 - R/Rtarget| gamma))``;
  ``w_fine += round((h_lut[c] * w_fine + k_lut[c] * stdp) / 2**30)`` (round half up);
  without homeostasis ``w_fine += stdp``.
- weights clip to ``[w_lo, w_hi]`` mantissas (``WeightCodec``); the core sees ``round(w_fine / 2**WF)``.

Overflow: ``|h_lut| * 2**25 < 2**62`` needs ``|alpha (1 - R/Rtarget) K| < 64`` (checked by the compiler).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.seed_rules.fixed import Synapses, decay_trace, rshift_round

KF = 30
NEVER = -(10 ** 9)


@dataclass
class State:
    syn: Synapses
    ltp: np.ndarray          # int64 per synapse, fine weight units
    ltd: np.ndarray          # int64 per post neuron
    last_pre: np.ndarray     # int64 per pre neuron
    last_post: np.ndarray    # int64 per post neuron
    ring: np.ndarray | None  # bool (window, n_post)
    count: np.ndarray        # int64 per post neuron
    k_lut: np.ndarray | None
    h_lut: np.ndarray | None
    engine: str = "numpy"    # emulator engine (use_engine); "numba" runs homeostatic_stdp_numba
    nb: tuple | None = None  # the numba kernel's one-projection group (views of these arrays)


def use_engine(st: State, engine: str) -> None:
    st.engine = engine


def make_state(learning: dict, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    homeo = bool(learning["homeostasis"])
    window = int(learning["window"]) if homeo else 0
    return State(Synapses(learning, n_pre, pre_idx, post_idx), np.zeros(len(pre_idx), np.int64), np.zeros(n_post, np.int64),
                 np.full(n_pre, NEVER, np.int64), np.full(n_post, NEVER, np.int64),
                 np.zeros((window, n_post), bool) if homeo else None, np.zeros(n_post, np.int64),
                 np.asarray(arrays["k_lut"], np.int64) if homeo else None,
                 np.asarray(arrays["h_lut"], np.int64) if homeo else None)


def step(learning: dict, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    if st.engine == "numba":
        from emulator.seed_rules import homeostatic_stdp_numba
        from emulator.seed_rules.packing import step_one
        return step_one(homeostatic_stdp_numba, learning, st, weights, pre_spikes, post_spikes, t)
    syn = st.syn
    arrived = syn.begin(weights, pre_spikes, t)
    st.last_pre[pre_spikes] = t
    st.last_post[post_spikes] = t
    st.ltp[arrived] = int(learning["a_plus"])
    decay_trace(st.ltp, int(learning["keep_plus"]))
    decay_trace(st.ltd, int(learning["keep_minus"]))
    causal = st.last_post[syn.post_idx] >= st.last_pre[syn.pre_idx]
    stdp = np.where(causal, st.ltp, -st.ltd[syn.post_idx])
    if st.ring is not None:
        slot = (t - 1) % st.ring.shape[0]
        st.count += post_spikes.astype(np.int64) - st.ring[slot]
        st.ring[slot] = post_spikes
        c = st.count[syn.post_idx]
        syn.w_fine += rshift_round(st.h_lut[c] * syn.w_fine + st.k_lut[c] * stdp, KF)
    else:
        syn.w_fine += stdp
    syn.codec.store(syn.w_fine, weights)
    st.ltd[post_spikes] = int(learning["a_minus"])
