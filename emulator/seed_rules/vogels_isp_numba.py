"""Numba kernel of the integer inhibitory STDP engine (seed 004): the same integers as
:func:`emulator.seed_rules.vogels_isp.step` (traces unsigned 16 bit with 12 fraction bits, saturating
at 65535; fine weights ``mantissa * 2**16`` clipped to ``[w_lo, w_hi] * 2**16``; round half up).

:func:`pack` flattens P projections into one group tuple (layout: :mod:`emulator.seed_rules.packing`);
:func:`step_group` runs one step of all of them; :func:`step` is the per-step entry under ``numba``.
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.seed_rules.fixed import TRACE_MAX, XF
from emulator.seed_rules.packing import arrive, cat, clip_store, offsets, scatter

#: index of the stored weights (int32) in a group tuple
WEIGHTS = 7
#: per-projection integer parameters, columns of the group's ``prm`` matrix
PARAMS = ("delay", "keep", "alpha", "multiplicative", "eta", "eta_m", "sign", "lo", "hi")


def _params(learning: dict) -> list[int]:
    mult = bool(learning["multiplicative"])
    return [int(learning["delay"]), int(learning["keep"]), int(learning["alpha"]), int(mult),
            0 if mult else int(learning["eta"]), int(learning["eta_m"]) if mult else 0,
            int(learning.get("sign", 1)), int(learning["w_lo"]) << 16, int(learning["w_hi"]) << 16]


def pack(learnings, states, weights) -> tuple:
    """Group tuple of projections (``learning`` dicts, engine states, int32 stored weights)."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
    n_pre = [st.syn.delay.ring.shape[1] for st in states]
    syn_off = offsets([st.syn.pre_idx.size for st in states])
    pre_off = offsets(n_pre)
    post_off = offsets([st.x_post.size for st in states])
    dr_off = offsets([st.syn.delay.ring.size for st in states])
    prm = np.array([_params(lr) for lr in learnings], np.int64).reshape(len(states), len(PARAMS))
    return (syn_off, pre_off, post_off, dr_off, prm,
            cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64),
            cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64),
            cat(list(weights), np.int32), cat([st.syn.w_fine for st in states], np.int64),
            cat([st.x_pre for st in states], np.int64), cat([st.x_post for st in states], np.int64),
            np.zeros(pre_off[-1], np.bool_), cat([st.syn.delay.ring for st in states], np.bool_))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    scatter(g[8], [st.syn.w_fine for st in states])
    scatter(g[9], [st.x_pre for st in states])
    scatter(g[10], [st.x_post for st in states])
    scatter(g[12], [st.syn.delay.ring for st in states])


@numba.njit(cache=True, nogil=True)
def step_group(t, g, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of group ``g``; ``pre_spk``/``post_spk``: bool
    spikes emitted this step, concatenated per projection like the group's pre/post arrays."""
    syn_off, pre_off, post_off, dr_off, prm, pre_idx, post_idx, weights, w_fine, x_pre, x_post, arr, dring = g
    step_fields(t, syn_off, pre_off, post_off, dr_off, prm, pre_idx, post_idx, weights, w_fine, x_pre, x_post, arr,
                dring, pre_spk, post_spk)


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, prm, pre_idx, post_idx, weights, w_fine, x_pre, x_post, arr,
                dring, pre_spk, post_spk):
    """:func:`step_group` with the group's fields as arguments (for compiled loops that unpack it once)."""
    one = 1 << XF
    for j in range(prm.shape[0]):
        d = prm[j, 0]
        keep = prm[j, 1]
        alpha = prm[j, 2]
        mult = prm[j, 3]
        eta = prm[j, 4]
        eta_m = prm[j, 5]
        sign = prm[j, 6]
        lo = prm[j, 7]
        hi = prm[j, 8]
        p0 = pre_off[j]
        n_pre = pre_off[j + 1] - p0
        arrive(t, d, p0, n_pre, dr_off[j], pre_spk, arr, dring)
        m0 = post_off[j]
        m1 = post_off[j + 1]
        for m in range(m0, m1):
            x_post[m] = (x_post[m] * keep + 32768) >> 16       # decayed; the (V1) value this step
        for q in range(syn_off[j], syn_off[j + 1]):
            i = pre_idx[q]
            m = post_idx[q]
            x = (x_pre[q] * keep + 32768) >> 16
            dd = 0
            if arr[i]:
                x = min(x + one, TRACE_MAX)
                dd = x_post[m] - alpha
            x_pre[q] = x
            if post_spk[m]:
                dd += x
            w = w_fine[q]
            if mult:
                w += (eta_m * dd * w + (1 << 27)) >> 28
            else:
                w += (eta * dd + (1 << 11)) >> 12
            clip_store(q, w, lo, hi, sign, w_fine, weights)
        for m in range(m0, m1):
            if post_spk[m]:
                x_post[m] = min(x_post[m] + one, TRACE_MAX)
