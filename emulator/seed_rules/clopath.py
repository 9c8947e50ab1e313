"""Integer Clopath rule (seed 001; Clopath et al. 2010): a Loihi-2-style voltage-trace extension.

Float rule and equation labels (C1)-(C5): :mod:`neuromap.plasticity.clopath`. Here the post neuron's
membrane v (``loihi_lif``, 24-bit signed hardware units, 0 = the float v_reset) drives two extra
integer post traces u-, u+ (low-pass filtered v, like Loihi 2's y-traces set by a third factor), and
the synapse keeps an integer pre trace xbar. Widths and units:

- ``vq = rshift_round(v, v_shift)``: v reduced to 16-bit signed (``v_shift = voltage_bits - 16``);
- ``u-``, ``u+``: vq units with ``UF = 8`` fraction bits (24-bit signed); per step
  ``u <- rshift_round(u * keep + (vq << UF) * (2**16 - keep), 16)`` with ``keep = round(2**16 d)``,
  d = exp(-dt/tau_-/+); a constant vq is a fixed point (no drift);
- thresholds: ``theta_minus`` in u units (vq << UF), ``theta_plus`` in vq units; ``u_init`` in u units;
- ``xbar``: spikes with ``XB = 20`` fraction bits (1 spike = 2**20), unsigned 24 bit saturating at
  2**24 - 1; per step ``xbar <- rshift_round(xbar * keep_x, 16)`` then ``+2**20`` per arrival
  (the float rule's jump 1/tau_x is folded into the LTP coefficient). Round-to-nearest decay stalls
  where ``xbar (1 - keep_x) < 1/2``: with 20 fraction bits that is ~1e-4 spike (with 12 it would be
  1.8 % of a spike for tau_x = 150 steps, a lasting LTP bias); the LTP product reads
  ``xb = rshift_round(xbar, 8)`` (``XF = 12`` fraction bits, < 2**16);
- coefficients as 16-bit mantissa and shift, ``c = m * 2**-sh`` (:func:`scale`): LTD
  (``ltd_m``, ``ltd_sh``: fine-weight units per u unit), LTP (``ltp_m``, ``ltp_sh``: fine-weight
  units * 2**FF per spike of xbar, per (vq unit * u unit)); ``FF = 8``;
- weights: fine ``w = mantissa * 2**WF`` (WF = 16, :class:`~emulator.seed_rules.fixed.Synapses`);
  the core gets ``round(w / 2**16)``.

All rounding is half up (:func:`~emulator.seed_rules.fixed.rshift_round`). Per step t, in the
float rule's order (values of step t; ``late`` = u of step t - delay_u, ``u_init`` before any)::

    u-, u+ <- filter(u-, vq), filter(u+, vq)                                     (C2')
    ltd    = scale([late- - theta_minus]+, ltd)                      per post    (C1, LTD)
    f      = scale([vq - theta_plus]+ * [late+ - theta_minus]+, ltp) per post    (C4)
    xbar   <- rshift_round(xbar keep_x, 16)
    arrived:  w <- clip(w - ltd, w_lo, w_hi);  xbar <- min(xbar + 2**20, 2**24 - 1)
    every synapse:  w <- min(w + rshift_round(xb * f, XF + FF), w_hi)             (C1, LTP)

Ranges (int64 never overflows): [vq - theta_plus]+ < 2**17, [u - theta_minus]+ < 2**25, their
product < 2**42, times a 16-bit mantissa < 2**58; the compiler keeps ``ltp_sh >= 11`` so
f < 2**47 and xb * f < 2**63. The post spikes are not used (the rule sees the post only through v).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromap.errors import ImageError

from emulator.seed_rules.fixed import XF, Synapses, decay_trace, rshift_round

#: fraction bits of u-, u+ (and theta_minus, u_init) over vq
UF = 8
#: extra fraction bits of the per-post LTP factor f
FF = 8
#: fraction bits of xbar (1 spike = 2**XB) and its saturation (24 bit unsigned)
XB = 20
XBAR_MAX = (1 << 24) - 1
#: width of vq (signed)
VQ_BITS = 16
#: keep factors of the voltage filters: 2**16 = 1.0
KEEP_ONE = 1 << 16


@dataclass
class State:
    """``u``: int64[D+1, 2, n_post] ring of (u-, u+) of the last D+1 steps (row t % (D+1));
    ``xbar``: int64[S] pre trace per synapse; ``t``: last step seen (1-based)."""

    syn: Synapses
    u: np.ndarray
    xbar: np.ndarray
    t: int = 0


def scale(x: np.ndarray, m: int, sh: int) -> np.ndarray:
    """``x * m / 2**sh`` rounded half up (``sh`` may be 0)."""
    return rshift_round(x * int(m), int(sh))


def filter_v(u: np.ndarray, vq: np.ndarray, keep: int) -> np.ndarray:
    """One step of the voltage low-pass filter (C2'), u in vq << UF units."""
    return rshift_round(u * keep + (vq << UF) * (KEEP_ONE - keep), 16)


def make_state(learning: dict, arrays: dict, n_pre: int, n_post: int, pre_idx: np.ndarray,
               post_idx: np.ndarray) -> State:
    d = int(learning["delay_u"])
    u = np.full((d + 1, 2, n_post), int(learning["u_init"]), np.int64)
    return State(Synapses(learning, n_pre, pre_idx, post_idx), u, np.zeros(len(pre_idx), np.int64))


def post_factors(learning: dict, st: State, post_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Advance u-, u+ by one step from ``post_v`` (hardware v); return (ltd, f) per post neuron."""
    p = learning
    vq = rshift_round(np.asarray(post_v, np.int64), int(p["v_shift"]))
    D1 = st.u.shape[0]
    cur, new = st.u[(st.t - 1) % D1], st.u[st.t % D1]
    new[0] = filter_v(cur[0], vq, int(p["keep_minus"]))
    new[1] = filter_v(cur[1], vq, int(p["keep_plus"]))
    late = st.u[(st.t + 1) % D1]              # u(t - D); rows not yet written hold u_init
    th_m = int(p["theta_minus"])
    ltd = scale(np.maximum(late[0] - th_m, 0), p["ltd_m"], p["ltd_sh"])
    prod = np.maximum(vq - int(p["theta_plus"]), 0) * np.maximum(late[1] - th_m, 0)
    f = scale(prod, p["ltp_m"], p["ltp_sh"])
    return ltd, f


def step(learning: dict, st: State, weights: np.ndarray, pre_spikes: np.ndarray, post_spikes: np.ndarray,
         t: int, post_v: np.ndarray | None = None) -> None:
    if post_v is None:
        raise ImageError("clopath learning engine: the emulator gave no post membrane v (it needs post_v)")
    syn = st.syn
    arrived = syn.begin(weights, pre_spikes, t)
    st.t += 1
    ltd, f = post_factors(learning, st, post_v)
    w, lo, hi = syn.w_fine, syn.codec.lo, syn.codec.hi
    post = syn.post_idx
    decay_trace(st.xbar, int(learning["keep_x"]))
    w[arrived] = np.clip(w[arrived] - ltd[post[arrived]], lo, hi)
    st.xbar[arrived] = np.minimum(st.xbar[arrived] + (1 << XB), XBAR_MAX)
    w += rshift_round(rshift_round(st.xbar, XB - XF) * f[post], XF + FF)
    syn.codec.store(w, weights)
