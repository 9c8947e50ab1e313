"""Numba kernel of the integer receptor-pool-bounded STDP engine (seed 000): the same integers as
:func:`emulator.seed_rules.pool_stdp.step` (int64 fixed point, round half up, floor for the pool cap
and the scaling ratio; equations (P1)-(P17) in that module).

:func:`pack` flattens P projections into one group tuple (layout: :mod:`emulator.seed_rules.packing`;
per-post scratch sums and per-synapse pot/dep buffers at the end); :func:`step_group` runs one step of
all of them, :func:`step_fields` the same with the fields as arguments (for compiled time loops).
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.seed_rules.fixed import XF, seg_sum
from emulator.seed_rules.packing import arrive, cat, clip_store, offsets, scatter
from emulator.seed_rules.pool_stdp import CF, POOL_MAX

#: index of the stored weights (int32) in a group tuple
WEIGHTS = 9
#: per-projection integer parameters, columns of the group's ``prm`` matrix
PARAMS = ("delay", "keep_plus", "keep_minus", "a_plus", "a_minus", "alpha_r", "k_pw", "pw_set", "conserve",
          "alpha_ss", "c_per_w", "k_cg", "sign", "lo", "hi", "c_max")
#: the state arrays a group concatenates (after the stored weights), in group order
FIELDS = ("w_fine", "x_pre", "y_post", "pw", "pw_soma", "c_dend", "c_soma", "goal", "dring")


def _params(learning: dict, st) -> list[int]:
    return [int(learning["delay"]), int(learning["keep_plus"]), int(learning["keep_minus"]),
            int(learning["a_plus"]), int(learning["a_minus"]), int(learning["alpha_r"]), int(learning["k_pw"]),
            int(learning["pw_set"]), int(learning["pool_update"] == "conserve"), int(learning["alpha_ss"]),
            int(learning["c_per_w"]), int(learning["k_cg"]), int(learning.get("sign", 1)),
            int(learning["w_lo"]) << 16, int(learning["w_hi"]) << 16, int(st.c_max)]


def _parts(st) -> dict:
    return {"w_fine": st.syn.w_fine, "x_pre": st.x_pre, "y_post": st.y_post, "pw": st.pw, "pw_soma": st.pw_soma,
            "c_dend": st.c_dend, "c_soma": st.c_soma, "goal": st.goal, "dring": st.syn.delay.ring}


def pack(learnings, states, weights) -> tuple:
    """Group tuple of projections (``learning`` dicts, engine states, int32 stored weights). Sets each
    state's fine weights from its stored weights, and its goal as the numpy step does, if no step ran yet."""
    for lr, st, w in zip(learnings, states, weights):
        if st.syn.w_fine is None:
            st.syn.w_fine = st.syn.codec.fine(w)
        if st.goal is None:
            goal = int(lr["w_goal"])
            st.goal = (np.full(st.n_post, goal, np.int64) if goal > 0
                       else seg_sum(st.syn.w_fine, st.syn.post_idx, st.n_post))
    parts = [_parts(st) for st in states]
    n_pre = [st.syn.delay.ring.shape[1] for st in states]
    syn_off, pre_off = offsets([st.syn.pre_idx.size for st in states]), offsets(n_pre)
    post_off = offsets([st.n_post for st in states])
    dr_off = offsets([st.syn.delay.ring.size for st in states])
    lut_off = [offsets([getattr(st, k).size for st in states]) for k in ("s_lut", "decay_lut", "prod_lut")]
    prm = np.array([_params(lr, st) for lr, st in zip(learnings, states)], np.int64).reshape(len(states), len(PARAMS))
    f = {k: cat([p[k] for p in parts], np.bool_ if k == "dring" else np.int64) for k in FIELDS}
    luts = [cat([getattr(st, k) for st in states], np.int64) for k in ("s_lut", "decay_lut", "prod_lut")]
    n_syn, n_post = int(syn_off[-1]), int(post_off[-1])
    return (syn_off, pre_off, post_off, dr_off, lut_off[0], lut_off[1], lut_off[2], prm,
            cat([st.syn.pre_idx + pre_off[j] for j, st in enumerate(states)], np.uint64),
            cat(list(weights), np.int32), *[f[k] for k in FIELDS],
            cat([st.syn.post_idx + post_off[j] for j, st in enumerate(states)], np.uint64),
            luts[0], luts[1], luts[2], np.zeros(pre_off[-1], np.bool_),
            np.zeros((5, n_post), np.int64), np.zeros((2, n_syn), np.int64))


def unpack(g: tuple, states, weights) -> None:
    """Copy a group's state (and stored weights) back into the projections' arrays."""
    scatter(g[WEIGHTS], weights)
    for k, name in enumerate(FIELDS):
        parts = [_parts(st)[name] for st in states]
        scatter(g[WEIGHTS + 1 + k], parts)


@numba.njit(inline="always")
def _rr(x, n):
    """``rshift_round``: x / 2**n rounded half up (n >= 1)."""
    return (x + (1 << (n - 1))) >> n


@numba.njit(inline="always")
def _lut(table, base, size, x):
    """``fixed.lut_interp`` of ``table[base:base+size]`` at calcium ``x`` (CF fraction bits, x >= 0)."""
    sh = CF - 8
    i = x >> sh
    last = size - 1
    if i >= last:
        return table[base + last]
    lo = table[base + i]
    return lo + _rr((table[base + i + 1] - lo) * (x - (i << sh)), sh)


@numba.njit(cache=True, nogil=True)
def step_group(t, g, pre_spk, post_spk):
    """One step (``t`` 1-based) of every projection of group ``g``; ``pre_spk``/``post_spk``: bool
    spikes emitted this step, concatenated per projection like the group's pre/post arrays."""
    (syn_off, pre_off, post_off, dr_off, s_off, d_off, p_off, prm, pre_idx, weights, w_fine, x_pre, y_post, pw,
     pw_soma, c_dend, c_soma, goal, dring, post_idx, s_lut, decay_lut, prod_lut, arr, sums, syn_tmp) = g
    step_fields(t, syn_off, pre_off, post_off, dr_off, s_off, d_off, p_off, prm, pre_idx, weights, w_fine, x_pre,
                y_post, pw, pw_soma, c_dend, c_soma, goal, dring, post_idx, s_lut, decay_lut, prod_lut, arr, sums,
                syn_tmp, pre_spk, post_spk)


@numba.njit(cache=True, nogil=True)
def step_fields(t, syn_off, pre_off, post_off, dr_off, s_off, d_off, p_off, prm, pre_idx, weights, w_fine, x_pre,
                y_post, pw, pw_soma, c_dend, c_soma, goal, dring, post_idx, s_lut, decay_lut, prod_lut, arr, sums,
                syn_tmp, pre_spk, post_spk):
    """:func:`step_group` with the group's fields as arguments. ``sums`` rows: x_sum, pot_sum, dep_sum,
    w_sum, then ``one - ratio``; ``syn_tmp`` rows: pot, dep per synapse."""
    one = np.int64(1) << 16
    x_sum, pot_sum, dep_sum, w_sum, one_minus = sums[0], sums[1], sums[2], sums[3], sums[4]
    pot_q, dep_q = syn_tmp[0], syn_tmp[1]
    for j in range(prm.shape[0]):
        d, keep_p, keep_m, a_plus, a_minus = prm[j, 0], prm[j, 1], prm[j, 2], prm[j, 3], prm[j, 4]
        alpha_r, k_pw, pw_set, conserve, alpha_ss = prm[j, 5], prm[j, 6], prm[j, 7], prm[j, 8], prm[j, 9]
        c_per_w, k_cg, sign, lo, hi, c_max = prm[j, 10], prm[j, 11], prm[j, 12], prm[j, 13], prm[j, 14], prm[j, 15]
        p0 = pre_off[j]
        arrive(t, d, p0, pre_off[j + 1] - p0, dr_off[j], pre_spk, arr, dring)
        m0, m1 = post_off[j], post_off[j + 1]
        for m in range(m0, m1):
            x_sum[m] = 0
            pot_sum[m] = 0
            dep_sum[m] = 0
            w_sum[m] = 0
            y_post[m] = _rr(y_post[m] * keep_m, 16)                               # decayed; dep reads it
        q0, q1 = syn_off[j], syn_off[j + 1]
        for q in range(q0, q1):                                                   # (P1)-(P3)
            i, m = pre_idx[q], post_idx[q]
            w = w_fine[q]
            a = arr[i]
            w_sum[m] += w
            if a:
                x_sum[m] += w
            xp = 1 << XF if a else _rr(x_pre[q] * keep_p, 16)
            x_pre[q] = xp
            pot = _rr((hi - w) * a_plus * xp, 16 + XF) if post_spk[m] else 0
            dep = _rr((w - lo) * a_minus * y_post[m], 16 + XF) if a else 0
            pot_q[q] = pot
            dep_q[q] = dep
            pot_sum[m] += pot
            dep_sum[m] += dep
        for m in range(m0, m1):                                                   # (P4): cap at the pool
            one_minus[m] = max(pw[m], 0)                                          # (scratch: avail)
        for q in range(q0, q1):
            m = post_idx[q]
            if pot_sum[m] > one_minus[m]:
                pot_q[q] = pot_q[q] * one_minus[m] // max(pot_sum[m], 1)
        for m in range(m0, m1):
            pot_sum[m] = 0
        for q in range(q0, q1):
            pot_sum[post_idx[q]] += pot_q[q]
        for m in range(m0, m1):                                                   # (P5)-(P11), (P16)
            use = pot_sum[m] - _rr(alpha_r * dep_sum[m], 16)
            degr = _rr(k_pw * x_sum[m], 16)
            s = _lut(s_lut, s_off[j], s_off[j + 1] - s_off[j], c_dend[m])
            demand = max(-_rr(s * (pw[m] - use - degr - pw_set), 16), 0)
            supply = min(demand, max(pw_soma[m], 0))
            if conserve:
                pw_new = pw[m] + supply - use - degr
            else:
                pw_new = pw[m] + (supply if demand > 0 else -use - degr)
            prod = _lut(prod_lut, p_off[j], p_off[j + 1] - p_off[j], c_soma[m])
            ratio = (goal[m] << 16) // max(w_sum[m], 1) if w_sum[m] > 0 else one
            one_minus[m] = max(one - ratio, -15 * one)
            pw[m] = min(max(pw_new, 0), POOL_MAX)
            pw_soma[m] = min(max(pw_soma[m] - supply + prod, 0), POOL_MAX)
            c_in = _rr(x_sum[m] * c_per_w, 32)                                   # (P12, P13)
            db, dn = d_off[j], d_off[j + 1] - d_off[j]
            c_dend[m] = min(max(c_dend[m] + c_in - _lut(decay_lut, db, dn, c_dend[m]), 0), c_max)
            spk = 1 if post_spk[m] else 0
            c_soma[m] = min(max(c_soma[m] + k_cg * spk - _lut(decay_lut, db, dn, c_soma[m]), 0), c_max)
            if post_spk[m]:
                y_post[m] = 1 << XF
        for q in range(q0, q1):                                                   # (P15)-(P17)
            i, m = pre_idx[q], post_idx[q]
            w = w_fine[q]
            x = w if arr[i] else 0
            ss = _rr(alpha_ss * w * one_minus[m], 32)
            clip_store(q, w + pot_q[q] - dep_q[q] - _rr(k_pw * x, 16) - ss, lo, hi, sign, w_fine, weights)
