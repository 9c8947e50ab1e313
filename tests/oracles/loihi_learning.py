"""Array reference of the ``loihi`` learning engine (Lava 0.10.0 ``LearningDense``/``LearningSparse`` fixed_pt,
``LearningConnectionModelBitApproximate``, lava/magma/core/model/py/connection.py and
learning_rule_applier.py): written from Lava's source line by line (the citations below), vectorized over
synapses the way Lava's own numpy model is, independent of neuromap's numba kernel
(:mod:`neuromap.learning_engines.loihi_numba`, the engine's one implementation). It reuses the engine's state
container, Lava's random streams and the rule's constants (:mod:`neuromap.learning_engines.loihi_step`:
``_draws``, ``_consts``: which draw each step reads and the impulse decomposition are themselves checked against
Lava by tests/learning/test_learning_vs_lava.py and by hand-computed cases) and none of the step's arithmetic.

:func:`learning_step` has the signature of ``loihi_step.learning_step``; tests/learning/test_learning_engine.py
compares the two on random rules (dense and CSR), the Lava-free counterpart of the Lava checks.
"""
from __future__ import annotations

import numpy as np

from neuromap.learning_engines.loihi_step import _consts, _draws
from neuromap.learning_rules import FACTOR_WIDTH

TRACE_MAX = 127                   # constants.py:48, 7-bit traces
W_S_MANT = 4                      # constants.py:56
W_ACCUMULATOR_U = 15              # constants.py:59
ACC_MIN, ACC_MAX = -(2 ** W_ACCUMULATOR_U) - 1, 2 ** W_ACCUMULATOR_U - 1  # learning_rule_applier.py:315
SYN_SHIFT = 7                     # W_ACCUMULATOR_S - W_SYN_VAR_S = 16 - 9 (connection.py:945)
SYN_VAR = {"dw": "weights", "dd": "tag_2", "dt": "tag_1"}
FACTOR_SYN = {"w": "weights", "d": "tag_2", "t": "tag_1"}


def learning_step(cfg, state, weights, pre_spikes, post_spikes, t: int) -> None:
    """One time step t (consecutive from 1), like ``loihi_step.learning_step``."""
    if t != state.t + 1:
        raise ValueError(f"learning_step expects step {state.t + 1}, got {t}")
    pre = np.asarray(pre_spikes, bool)
    post = np.asarray(post_spikes, bool)
    T = cfg.t_epoch
    learn = t % T == 0                                   # lrn_guard, connection.py:428
    draws = _draws(cfg, state, t, learn)
    u = int((t // T) % (2 ** cfg.decimate_exponent) == 0) if cfg.decimate_exponent is not None else 0
    _spike_phase(cfg, state, pre, post, t, draws[0])
    if learn:
        _learning_phase(cfg, state, weights, u, draws)
    state.t = t
    if learn:
        state.epochs += 1


def syn_var_range(cfg, name: str) -> tuple[int, int]:
    """Saturation bounds after learning (connection.py:1113, weightutils.clip_weights num_bits=8)."""
    if name == "weights":
        return {"mixed": (-256, 255), "excitatory": (0, 255), "inhibitory": (-255, 0)}[cfg.sign_mode]
    if name == "tag_2":
        return 0, 255
    return -257, 255


def _add_impulse(values, random, imp_int, imp_frac):
    """connection.py:905: trace + int, + 1 if random < frac, clip to 0..127."""
    out = values + imp_int + (random < imp_frac).astype(np.int64)
    return np.clip(out, 0, TRACE_MAX)


def _spike_phase(cfg, state, pre, post, t, r_y_spk) -> None:
    """connection.py:384 recv_traces with binary spikes (GradedSpikeCfg.USE_REGULAR_IMPULSE)."""
    c = _consts(cfg, state)
    within = t % cfg.t_epoch or cfg.t_epoch              # connection.py:367
    multi = (state.tx > 0) & pre                         # second spike in the epoch: impulse now,
    state.x[:, multi] = _add_impulse(state.x[:, multi], 0, c["xi"][:, None], c["xf"][:, None])  # random 0
    state.tx[pre] = within
    multi = (state.ty > 0) & post                        # connection.py:763
    state.y[:, multi] = _add_impulse(state.y[:, multi], r_y_spk, c["yi"][:, None], c["yf"][:, None])
    state.ty[post] = within


def _histories(c, state, T, t_spike, traces, nz, dec, ints, fracs, r_dec, r_imp):
    """connection.py:799: trace values at within-epoch steps 0..T (decay, then impulse on spike)."""
    h = np.zeros((T + 1,) + traces.shape, np.int64)
    h[0] = traces
    for s in range(1, T + 1):
        v = dec[nz][:, None] * h[s - 1][nz]
        frac = v % 1
        h[s][nz] = (np.floor(v) + (r_dec < frac)).astype(np.int64)
        ids = np.where(t_spike == s)[0]
        h[s][:, ids] = _add_impulse(h[s][:, ids], r_imp, ints[:, None], fracs[:, None])
    return h


def _index_arrays(state):
    idx = state._cache.get("oracle_index")
    if idx is None:
        if state.dense:
            idx = (np.arange(state.n_pre)[None, :], np.arange(state.n_post)[:, None])
        else:
            idx = (state.indices, np.repeat(np.arange(state.n_post), np.diff(state.indptr)))
        state._cache["oracle_index"] = idx
    return idx


def _learning_phase(cfg, state, weights, u, draws) -> None:
    """connection.py:431 run_lrn: dependencies, trace histories, traces <- last, apply rules, reset."""
    _, r_xd, r_xi, r_yd, r_yi, r_conn = draws
    c = _consts(cfg, state)
    T = cfg.t_epoch
    tx, ty = state.tx, state.ty
    xh = _histories(c, state, T, tx, state.x, c["x_nz"], c["x_dec"], c["xi"], c["xf"], r_xd, r_xi)
    yh = _histories(c, state, T, ty, state.y, c["y_nz"], c["y_dec"], c["yi"], c["yf"], r_yd, r_yi)
    state.x[:] = xh[T]
    state.y[:] = yh[T]
    pre_idx, post_idx = _index_arrays(state)
    shape = weights.shape
    x0 = (tx > 0)[pre_idx]
    y0 = (ty > 0)[post_idx]
    old = {"weights": weights.copy(), "tag_1": state.tag_1.copy(), "tag_2": state.tag_2.copy()}
    dep_val = {"x0": x0, "y0": y0, "u": u}
    dep_time = {"x0": tx[pre_idx], "y0": ty[post_idx], "u": T}

    def factor_value(dep, f):                           # learning_rule_applier.py:190
        const = f.const if f.const is not None else 0
        if f.var in ("x0", "y0"):
            return dep_val[f.var] + const
        if f.var in ("x1", "x2"):
            return xh[dep_time[dep], int(f.var[1]) - 1, pre_idx] + const
        if f.var in ("y1", "y2", "y3"):
            return yh[dep_time[dep], int(f.var[1]) - 1, post_idx] + const
        if f.var in FACTOR_SYN:
            v = old[FACTOR_SYN[f.var]] + const
            return np.sign(v) if f.sgn else v
        return const                                    # "C"

    new = {}
    for target in cfg.active_targets:                   # connection.py:936
        name = SYN_VAR[target]
        acc = old[name].astype(np.int64) << SYN_SHIFT
        for p in getattr(cfg, target):                  # learning_rule_applier.py:283 apply
            cur = np.ones(shape, np.int32)
            cur *= dep_val[p.dependency]
            width = 0
            for f in p.factors:
                w = FACTOR_WIDTH[f.var]
                width += w
                val = np.clip(factor_value(p.dependency, f), -(2 ** w), 2 ** w - 1)
                cur *= np.asarray(val).astype(np.int32)  # int32, wraps like Lava
            width += W_S_MANT
            cur *= np.int32(p.s_mantissa)
            cur = np.right_shift(cur, np.int32(max(0, width - W_ACCUMULATOR_U)))
            cur = np.left_shift(cur, np.int32(p.s_exp))
            cur = np.clip(cur, ACC_MIN, ACC_MAX)
            acc = np.clip(acc + cur, ACC_MIN, ACC_MAX)
        if name == "weights":                           # connection.py:1028
            if cfg.sign_mode == "excitatory":
                acc = np.maximum(0, acc)
            elif cfg.sign_mode == "inhibitory":
                acc = np.minimum(0, acc)
        elif name == "tag_2":
            acc = np.maximum(0, acc)
        q = acc / 2 ** SYN_SHIFT                        # connection.py:1073 stochastic rounding
        frac = q % 1
        q = (np.floor(q) + (r_conn < frac)).astype(np.int64)
        new[name] = np.clip(q, *syn_var_range(cfg, name))  # connection.py:1113
    for name, v in new.items():
        if name == "weights":
            weights[...] = v
        else:
            getattr(state, name)[...] = v
    state.tx[:] = 0
    state.ty[:] = 0


