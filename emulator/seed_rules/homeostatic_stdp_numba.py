"""Numba kernel of the integer homeostatic / nearest-neighbour STDP engine: the same integers as
:func:`emulator.seed_rules.homeostatic_stdp.step` (int64 fixed point, round half up, fine weights
``mantissa * 2**16`` clipped to ``[w_lo, w_hi] * 2**16``, stored mantissas int32).

:func:`pack` flattens P projections (nn_stdp and homeostatic ones may mix) into one group tuple
(layout: :mod:`emulator.seed_rules.packing`); :func:`step_group` runs one step of all of them;
:func:`step` is the per-step entry the numpy engine's ``step`` calls under the ``numba`` engine.
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.seed_rules.packing import arrive, cat, clip_store, offsets, scatter

#: index of the stored weights (int32) in a group tuple
WEIGHTS = 9
#: per-projection integer parameters, columns of the group's ``prm`` matrix
PARAMS = ("delay", "homeostasis", "window", "a_plus", "a_minus", "keep_plus", "keep_minus", "sign", "lo", "hi")


def _params(learning: dict) -> list[int]:
    homeo = bool(learning["homeostasis"])
    return [int(learning["delay"]), int(homeo), int(learning["window"]) if homeo else 0,
            int(learning["a_plus"]), int(learning["a_minus"]), int(learning["keep_plus"]),
            int(learning["keep_minus"]), int(learning.get("sign", 1)), int(learning["w_lo"]) << 16,
            int(learning["w_hi"]) << 16]


def _parts(st) -> dict:
    """The state arrays a group concatenates, by group field."""
    empty_b, empty_i = np.zeros(0, bool), np.zeros(0, np.int64)
    return {"w_fine": st.syn.w_fine, "ltp": st.ltp, "last_pre": st.last_pre, "ltd": st.ltd,
            "last_post": st.last_post, "count": st.count, "dring": st.syn.delay.ring,
            "rring": st.ring if st.ring is not None else empty_b,
            "k_lut": st.k_lut if st.k_lut is not None else empty_i,
            "h_lut": st.h_lut if st.h_lut is not None else empty_i}


def pack(learnings, states, weights) -> tuple:
    """Group tuple of projections (``learning`` dicts, engine states, int32 stored weights).
    Sets each state's fine weights from its stored weights if no step ran yet."""
    for st, w in zip(states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
    parts = [_parts(st) for st in states]
    n_syn = [st.syn.pre_idx.size for st in states]
    n_pre = [st.last_pre.size for st in states]
    n_post = [st.last_post.size for st in states]
    syn_off, pre_off, post_off = offsets(n_syn), offsets(n_pre), offsets(n_post)
    dr_off = offsets([p["dring"].size for p in parts])
    rr_off = offsets([p["rring"].size for p in parts])
    lut_off = offsets([p["k_lut"].size for p in parts])
    pre_idx = cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64)
    post_idx = cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64)
    prm = np.array([_params(lr) for lr in learnings], np.int64).reshape(len(states), len(PARAMS))
    f = {k: cat([p[k] for p in parts], np.bool_ if k in ("dring", "rring") else np.int64)
         for k in ("w_fine", "ltp", "last_pre", "ltd", "last_post", "count", "dring", "rring", "k_lut", "h_lut")}
    return (syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx,
            cat(list(weights), np.int32), f["w_fine"], f["ltp"], f["last_pre"], np.zeros(pre_off[-1], np.bool_),
            f["ltd"], f["last_post"], f["count"], f["dring"], f["rring"], f["k_lut"], f["h_lut"])


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    names = ("w_fine", "ltp", "last_pre", None, "ltd", "last_post", "count", "dring", "rring")
    parts = [_parts(st) for st in states]
    for k, name in enumerate(names):
        if name is not None:
            scatter(g[10 + k], [p[name] for p in parts])


@numba.njit(cache=True, nogil=True)
def step_group(t, g, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of group ``g``; ``pre_spk``/``post_spk``: bool
    spikes emitted this step, concatenated per projection like the group's pre/post arrays."""
    (syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx, weights, w_fine, ltp,
     last_pre, arr, ltd, last_post, count, dring, rring, k_lut, h_lut) = g
    for j in range(prm.shape[0]):
        d = prm[j, 0]
        homeo = prm[j, 1]
        window = prm[j, 2]
        a_plus = prm[j, 3]
        a_minus = prm[j, 4]
        kp = prm[j, 5]
        km = prm[j, 6]
        sign = prm[j, 7]
        lo = prm[j, 8]
        hi = prm[j, 9]
        p0 = pre_off[j]
        n_pre = pre_off[j + 1] - p0
        arrive(t, d, p0, n_pre, dr_off[j], pre_spk, arr, dring)
        for i in range(p0, p0 + n_pre):
            if pre_spk[i]:
                last_pre[i] = t
        m0 = post_off[j]
        n_post = post_off[j + 1] - m0
        rbase = rr_off[j] + ((t - 1) % window) * n_post if homeo else 0
        for m in range(m0, m0 + n_post):
            if post_spk[m]:
                last_post[m] = t
            ltd[m] = (ltd[m] * km + 32768) >> 16
            if homeo:
                r = rbase + m - m0
                if rring[r]:
                    count[m] -= 1
                if post_spk[m]:
                    count[m] += 1
                rring[r] = post_spk[m]
        lb = lut_off[j]
        for q in range(syn_off[j], syn_off[j + 1]):
            i = pre_idx[q]
            m = post_idx[q]
            x = a_plus if arr[i] else ltp[q]
            x = (x * kp + 32768) >> 16
            ltp[q] = x
            s = x if last_post[m] >= last_pre[i] else -ltd[m]
            w = w_fine[q]
            if homeo:
                c = lb + count[m]
                w += (h_lut[c] * w + k_lut[c] * s + (1 << 29)) >> 30
            else:
                w += s
            clip_store(q, w, lo, hi, sign, w_fine, weights)
        for m in range(m0, m0 + n_post):
            if post_spk[m]:
                ltd[m] = a_minus
