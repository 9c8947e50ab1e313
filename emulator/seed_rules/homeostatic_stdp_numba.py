"""Numba kernel of the integer homeostatic / nearest-neighbour STDP engine: the same integers as
:func:`emulator.seed_rules.homeostatic_stdp.step` (int64 fixed point, round half up, fine weights
``mantissa * 2**16`` clipped to ``[w_lo, w_hi] * 2**16``, stored mantissas int32).

:func:`pack` flattens P projections (nn_stdp and homeostatic ones may mix) into one group tuple
(layout: :mod:`emulator.seed_rules.packing`); :func:`step_group` runs one step of all of them;
the numpy engine's ``step`` calls it through :func:`emulator.seed_rules.packing.step_one` under the
``numba`` engine. The group ends with two per-post scratch arrays: this step's ``h_lut``/``k_lut`` entries.

Speed: an all-to-all projection (:func:`layout`) runs as rows of contiguous synapses with the row's
pre or post values hoisted; each row is two branch-free loops over slices (trace decay, then weight
update) that LLVM vectorizes (AVX-512: 8 synapses per instruction). Without homeostasis the table
entries are ``h = 0``, ``k = 2**30``, which gives exactly ``w += stdp``, so both rules share the loop.
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.seed_rules.packing import arrive, cat, offsets, scatter

#: index of the stored weights (int32) in a group tuple
WEIGHTS = 9
#: per-projection integer parameters, columns of the group's ``prm`` matrix (``layout``: :func:`layout`)
PARAMS = ("delay", "homeostasis", "window", "a_plus", "a_minus", "keep_plus", "keep_minus", "sign", "lo", "hi",
          "layout")
#: synapse layouts: any order (gathers through pre_idx/post_idx); ``q = post * n_pre + pre`` (rows per post
#: neuron); ``q = pre * n_post + post`` (rows per pre neuron) — all-to-all projections
ANY, POST_MAJOR, PRE_MAJOR = 0, 1, 2


def layout(pre_idx: np.ndarray, post_idx: np.ndarray, n_pre: int, n_post: int) -> int:
    """:data:`POST_MAJOR` or :data:`PRE_MAJOR` when the synapses are exactly all pre x post pairs in that
    order, else :data:`ANY`."""
    if pre_idx.size != n_pre * n_post or pre_idx.size == 0:
        return ANY
    pre, post = np.arange(n_pre), np.arange(n_post)
    if np.array_equal(pre_idx, np.tile(pre, n_post)) and np.array_equal(post_idx, np.repeat(post, n_pre)):
        return POST_MAJOR
    if np.array_equal(pre_idx, np.repeat(pre, n_post)) and np.array_equal(post_idx, np.tile(post, n_pre)):
        return PRE_MAJOR
    return ANY


def _params(learning: dict, st) -> list[int]:
    homeo = bool(learning["homeostasis"])
    return [int(learning["delay"]), int(homeo), int(learning["window"]) if homeo else 0,
            int(learning["a_plus"]), int(learning["a_minus"]), int(learning["keep_plus"]),
            int(learning["keep_minus"]), int(learning.get("sign", 1)), int(learning["w_lo"]) << 16,
            int(learning["w_hi"]) << 16,
            layout(st.syn.pre_idx, st.syn.post_idx, st.last_pre.size, st.last_post.size)]


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
    prm = np.array([_params(lr, st) for lr, st in zip(learnings, states)], np.int64).reshape(len(states), len(PARAMS))
    f = {k: cat([p[k] for p in parts], np.bool_ if k in ("dring", "rring") else np.int64)
         for k in ("w_fine", "ltp", "last_pre", "ltd", "last_post", "count", "dring", "rring", "k_lut", "h_lut")}
    return (syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx,
            cat(list(weights), np.int32), f["w_fine"], f["ltp"], f["last_pre"], np.zeros(pre_off[-1], np.bool_),
            f["ltd"], f["last_post"], f["count"], f["dring"], f["rring"], f["k_lut"], f["h_lut"],
            np.zeros(post_off[-1], np.int64), np.zeros(post_off[-1], np.int64))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    names = ("w_fine", "ltp", "last_pre", None, "ltd", "last_post", "count", "dring", "rring")
    parts = [_parts(st) for st in states]
    for k, name in enumerate(names):
        if name is not None:
            scatter(g[10 + k], [p[name] for p in parts])


@numba.njit(inline="always")
def _update(x, s, w, h, k, lo, hi, sign):
    """Weight step of one synapse: (new fine weight, stored mantissa). ``x``: its decayed ltp,
    ``s``: its STDP term, ``h``/``k``: the post neuron's table entries (0 and 2**30 without homeostasis:
    then ``(2**30 s + 2**29) >> 30 = s`` exactly, the plain ``w += s``)."""
    w += (h * w + k * s + (1 << 29)) >> 30
    w = lo if w < lo else (hi if w > hi else w)              # clip_store's order
    return w, sign * ((w + 32768) >> 16)


@numba.njit(inline="always")
def _post_row(q0, n, p0, kp, a_plus, lp, nltd, h, k, lo, hi, sign, arr, ltp, last_pre, w_fine, weights):
    """Synapses ``q0 .. q0+n-1`` of one post neuron from pre ``p0 .. p0+n-1``: two branch-free loops (one
    fused loop does not vectorize) on uint64 indices (no negative-index wrap; no slices, which numba
    reference-counts)."""
    qb, pb = np.uint64(q0), np.uint64(p0)
    for u in range(np.uint64(n)):
        ltp[qb + u] = ((a_plus if arr[pb + u] else ltp[qb + u]) * kp + 32768) >> 16
    for u in range(np.uint64(n)):
        q = qb + u
        x = ltp[q]
        w, m = _update(x, x if lp >= last_pre[pb + u] else nltd, w_fine[q], h, k, lo, hi, sign)
        w_fine[q] = w
        weights[q] = m


@numba.njit(inline="always")
def _pre_row(q0, n, m0, kp, a_plus, a, lpre, hh, kk, ltd, lo, hi, sign, ltp, last_post, w_fine, weights):
    """Synapses ``q0 .. q0+n-1`` of one pre neuron to posts ``m0 .. m0+n-1`` (``a``: its spike arrives)."""
    qb, mb = np.uint64(q0), np.uint64(m0)
    for u in range(np.uint64(n)):
        ltp[qb + u] = ((a_plus if a else ltp[qb + u]) * kp + 32768) >> 16
    for u in range(np.uint64(n)):
        q, m = qb + u, mb + u
        x = ltp[q]
        nltd = -ltd[m]
        w, wm = _update(x, x if last_post[m] >= lpre else nltd, w_fine[q], hh[m], kk[m], lo, hi, sign)
        w_fine[q] = w
        weights[q] = wm


@numba.njit(cache=True, nogil=True)
def step_group(t, g, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of group ``g``; ``pre_spk``/``post_spk``: bool
    spikes emitted this step, concatenated per projection like the group's pre/post arrays."""
    (syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx, weights, w_fine, ltp,
     last_pre, arr, ltd, last_post, count, dring, rring, k_lut, h_lut, hh, kk) = g
    step_fields(t, syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx, weights, w_fine,
                ltp, last_pre, arr, ltd, last_post, count, dring, rring, k_lut, h_lut, hh, kk, pre_spk, post_spk)


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, rr_off, lut_off, prm, pre_idx, post_idx, weights, w_fine,
                ltp, last_pre, arr, ltd, last_post, count, dring, rring, k_lut, h_lut, hh, kk, pre_spk, post_spk):
    """:func:`step_group` with the group's fields as arguments, for compiled time loops that unpack the group
    once (numba reference-counts, atomically, every array taken out of a tuple and every argument of an
    inlined call whose body has loops; a plain call's arguments are not counted).
    Synapses of a projection in :data:`POST_MAJOR` / :data:`PRE_MAJOR` layout run as contiguous rows
    with the row's per-neuron values hoisted; any other layout gathers through ``pre_idx``/``post_idx``."""
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
        layout = prm[j, 10]
        p0 = pre_off[j]
        n_pre = pre_off[j + 1] - p0
        arrive(t, d, p0, n_pre, dr_off[j], pre_spk, arr, dring)
        pb = np.uint64(p0)
        for i in range(np.uint64(n_pre)):
            last_pre[pb + i] = t if pre_spk[pb + i] else last_pre[pb + i]
        m0 = post_off[j]
        n_post = post_off[j + 1] - m0
        rbase = rr_off[j] + ((t - 1) % window) * n_post if homeo else 0
        lb = lut_off[j]
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
                hh[m] = h_lut[lb + count[m]]
                kk[m] = k_lut[lb + count[m]]
            else:
                hh[m] = 0
                kk[m] = 1 << 30
        s0 = syn_off[j]
        if layout == POST_MAJOR:
            for mm in range(n_post):
                m = m0 + mm
                _post_row(s0 + mm * n_pre, n_pre, p0, kp, a_plus, last_post[m], -ltd[m], hh[m], kk[m], lo, hi,
                          sign, arr, ltp, last_pre, w_fine, weights)
        elif layout == PRE_MAJOR:
            for ii in range(n_pre):
                i = p0 + ii
                _pre_row(s0 + ii * n_post, n_post, m0, kp, a_plus, arr[i], last_pre[i], hh, kk, ltd, lo, hi, sign,
                         ltp, last_post, w_fine, weights)
        else:
            for q in range(s0, syn_off[j + 1]):
                i = pre_idx[q]
                m = post_idx[q]
                old = ltp[q]
                x = ((a_plus if arr[i] else old) * kp + 32768) >> 16
                ltp[q] = x
                nltd = -ltd[m]
                w, wm = _update(x, x if last_post[m] >= last_pre[i] else nltd, w_fine[q], hh[m], kk[m],
                                lo, hi, sign)
                w_fine[q] = w
                weights[q] = wm
        for m in range(m0, m0 + n_post):
            if post_spk[m]:
                ltd[m] = a_minus
