"""numba kernels of :mod:`neuromap.learning_engines.loihi_step`: the same integers, one scalar loop per synapse.

Products are encoded as int64 tables (see :func:`encode`); int32 wrap-around of Lava's
multiply-accumulate (``current_result`` is int32, learning_rule_applier.py:285) is reproduced
with :func:`_wrap32`. A product whose dependency is 0 contributes exactly 0, so it is skipped,
keeping only its saturation of the accumulator (idempotent clip), which is what Lava's
``np.clip(result + 0)`` does. A synapse with no active product whose learned variables are inside
their saturation ranges (weights by sign mode, tag_2 0..255, tag_1 -256..255) is left unchanged
by Lava's arithmetic (accumulator ``v << 7`` is a multiple of 128 inside the 16-bit range, the
rounding adds nothing), so it is skipped; tag_1 = -257 is not (Lava moves it to -256 with
probability 127/128), hence -256 as the lower bound there.
"""
from __future__ import annotations

import numba
import numpy as np

from neuromap.learning_rules import FACTOR_VARS, FACTOR_WIDTH, LearningConfig

_TWO31 = np.int64(1 << 31)
_MASK32 = np.int64(0xFFFFFFFF)
_TARGET_CODE = {"dw": 0, "dd": 1, "dt": 2}      # syn var: 0 weights, 1 tag_2 (d), 2 tag_1 (t)
_DEP_CODE = {"x0": 0, "y0": 1, "u": 2}
_VAR_CODE = {v: i for i, v in enumerate(FACTOR_VARS)}  # x0 y0 x1 x2 y1 y2 y3 w d t C
_SIGN_CODE = {"mixed": 0, "excitatory": 1, "inhibitory": 2}


def encode(cfg: LearningConfig) -> tuple[np.ndarray, np.ndarray]:
    """(prods (P, 6): target, dependency, s_mantissa, s_exp, right shift, n_factors;
    facs (P, F, 4): var code, const (0 = none), sgn, width), products in Lava's order."""
    rows = [(t, p) for t in cfg.active_targets for p in getattr(cfg, t)]
    nf = max(1, max(len(p.factors) for _, p in rows))
    prods = np.zeros((len(rows), 6), np.int64)
    facs = np.zeros((len(rows), nf, 4), np.int64)
    for k, (t, p) in enumerate(rows):
        width = sum(FACTOR_WIDTH[f.var] for f in p.factors) + 4
        prods[k] = (_TARGET_CODE[t], _DEP_CODE[p.dependency], p.s_mantissa, p.s_exp,
                    max(0, width - 15), len(p.factors))
        for j, f in enumerate(p.factors):
            facs[k, j] = (_VAR_CODE[f.var], f.const or 0, int(f.sgn), FACTOR_WIDTH[f.var])
    return prods, facs


@numba.njit(inline="always")
def _wrap32(x):
    return ((x + _TWO31) & _MASK32) - _TWO31


@numba.njit(inline="always")
def _clip(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


@numba.njit(cache=True)
def _spike_kernel(pre, post, within, tx, ty, x, y, xi, xf, yi, yf, r_y_spk):
    for i in range(pre.shape[0]):
        if pre[i]:
            if tx[i] > 0:
                for k in range(2):
                    x[k, i] = _clip(x[k, i] + xi[k] + (1 if 0 < xf[k] else 0), 0, 127)
            tx[i] = within
    for j in range(post.shape[0]):
        if post[j]:
            if ty[j] > 0:
                for k in range(3):
                    y[k, j] = _clip(y[k, j] + yi[k] + (1 if r_y_spk < yf[k] else 0), 0, 127)
            ty[j] = within


@numba.njit(cache=True)
def _history(h, t_spike, nz, dec, ints, fracs, r_dec, r_imp):
    T = h.shape[0] - 1
    for n in range(h.shape[2]):
        for s in range(1, T + 1):
            for k in range(h.shape[1]):
                if nz[k]:
                    v = dec[k] * h[s - 1, k, n]
                    fl = np.floor(v)
                    h[s, k, n] = np.int64(fl) + (1 if r_dec < v - fl else 0)
                else:
                    h[s, k, n] = 0
                if t_spike[n] == s:
                    h[s, k, n] = _clip(h[s, k, n] + ints[k] + (1 if r_imp < fracs[k] else 0), 0, 127)


@numba.njit(cache=True)
def _learn_kernel(dense, n_pre, indptr, indices, tx, ty, xh, yh, u, prods, facs, active, sign_mode,
                  r_conn, weights, tag_2, tag_1):
    T = xh.shape[0] - 1
    n_post = ty.shape[0]
    P = prods.shape[0]
    old = np.zeros(3, np.int64)
    acc = np.zeros(3, np.int64)
    has = np.zeros(3, np.bool_)
    for p in range(P):
        has[prods[p, 1]] = True
    wlo = -256 if sign_mode == 0 else (0 if sign_mode == 1 else -255)
    whi = 0 if sign_mode == 2 else 255
    u_on = has[2] and u != 0
    for j in range(n_post):
        y0 = 1 if ty[j] > 0 else 0
        if dense:
            s0, s1 = j * n_pre, (j + 1) * n_pre
        else:
            s0, s1 = indptr[j], indptr[j + 1]
        for s in range(s0, s1):
            i = s - s0 if dense else indices[s]
            x0 = 1 if tx[i] > 0 else 0
            if not (u_on or (x0 and has[0]) or (y0 and has[1])):
                if ((not active[0] or wlo <= weights[s] <= whi) and (not active[1] or 0 <= tag_2[s] <= 255)
                        and (not active[2] or -256 <= tag_1[s] <= 255)):
                    continue
            old[0] = weights[s]
            old[1] = tag_2[s]
            old[2] = tag_1[s]
            for g in range(3):
                acc[g] = old[g] << 7
            for p in range(P):
                g = prods[p, 0]
                dep = prods[p, 1]
                dv = x0 if dep == 0 else (y0 if dep == 1 else u)
                if dv == 0:
                    acc[g] = _clip(acc[g], -32769, 32767)
                    continue
                tdep = tx[i] if dep == 0 else (ty[j] if dep == 1 else T)
                cur = np.int64(dv)
                for f in range(prods[p, 5]):
                    var = facs[p, f, 0]
                    const = facs[p, f, 1]
                    width = facs[p, f, 3]
                    if var == 0:
                        val = x0 + const
                    elif var == 1:
                        val = y0 + const
                    elif var <= 3:
                        val = xh[tdep, var - 2, i] + const
                    elif var <= 6:
                        val = yh[tdep, var - 4, j] + const
                    elif var <= 9:
                        val = old[var - 7] + const
                        if facs[p, f, 2]:
                            val = 1 if val > 0 else (-1 if val < 0 else 0)
                    else:
                        val = const
                    val = _clip(val, -(1 << width), (1 << width) - 1)
                    cur = _wrap32(cur * val)
                cur = _wrap32(cur * prods[p, 2])
                cur = cur >> prods[p, 4]
                cur = _wrap32(cur << prods[p, 3])
                cur = _clip(cur, -32769, 32767)
                acc[g] = _clip(acc[g] + cur, -32769, 32767)
            for g in range(3):
                if not active[g]:
                    continue
                a = acc[g]
                if g == 0:
                    if sign_mode == 1 and a < 0:
                        a = 0
                    elif sign_mode == 2 and a > 0:
                        a = 0
                elif g == 1 and a < 0:
                    a = 0
                q = a >> 7
                rem = a - (q << 7)
                if r_conn < rem / 128.0:
                    q += 1
                if g == 0:
                    weights[s] = _clip(q, wlo, whi)
                elif g == 1:
                    tag_2[s] = _clip(q, 0, 255)
                else:
                    tag_1[s] = _clip(q, -257, 255)


def step(cfg, state, weights, pre, post, t, learn, u, draws, c) -> None:
    """One step of :func:`neuromap.learning_engines.loihi_step.learning_step` with the numba kernels."""
    r_spk, r_xd, r_xi, r_yd, r_yi, r_conn = draws
    T = cfg.t_epoch
    within = t % T or T
    _spike_kernel(pre, post, within, state.tx, state.ty, state.x, state.y, c["xi"], c["xf"],
                  c["yi"], c["yf"], r_spk)
    if not learn:
        return
    cache = state._cache
    if "numba" not in cache:
        prods, facs = encode(cfg)
        active = np.array([cfg.dw is not None, cfg.dd is not None, cfg.dt is not None])
        cache["numba"] = (prods, facs, active,
                          np.zeros((T + 1, 2, state.n_pre), np.int64), np.zeros((T + 1, 3, state.n_post), np.int64),
                          np.zeros(1, np.int64))
    prods, facs, active, xh, yh, empty = cache["numba"]
    xh[0] = state.x
    yh[0] = state.y
    _history(xh, state.tx, c["x_nz"], c["x_dec"], c["xi"], c["xf"], r_xd, r_xi)
    _history(yh, state.ty, c["y_nz"], c["y_dec"], c["yi"], c["yf"], r_yd, r_yi)
    state.x[:] = xh[T]
    state.y[:] = yh[T]
    if weights.dtype != np.int32 or not weights.flags.c_contiguous:
        raise ValueError("weights must be a C-contiguous int32 array (updated in place)")
    dense = state.dense
    _learn_kernel(dense, state.n_pre, empty if dense else state.indptr, empty if dense else state.indices,
                  state.tx, state.ty, xh, yh, u, prods, facs, active, _SIGN_CODE[cfg.sign_mode], r_conn,
                  weights.reshape(-1), state.tag_2.reshape(-1), state.tag_1.reshape(-1))
    state.tx[:] = 0
    state.ty[:] = 0
