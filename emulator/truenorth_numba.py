"""Compiled (numba) tick of a TrueNorth-style core; bit-identical to :func:`emulator.truenorth.step_core_np`.

Same equations, widths and random draws as :mod:`emulator.truenorth` (see its
docstring); the kernel loops over neurons and active axons and draws every
random number with :func:`emulator.tn_random.draw_nb`.
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.tn_random import LEAK, SYNAPSE, THRESHOLD, draw_nb

_V_MIN, _V_MAX = -(2 ** 19), 2 ** 19 - 1


@numba.njit(cache=True, inline="always")
def _sat(x):
    return min(max(x, _V_MIN), _V_MAX)


@numba.njit(cache=True, inline="always")
def _sgn(x):
    return (x > 0) - (x < 0)


@numba.njit(cache=True)
def _kernel(V, idx, crossbar, axon_type, s, b, lam, c_lambda, epsilon, alpha, beta, TM, gamma, kappa, R,
            seed, cid, t, spikes):
    N = V.shape[0]
    sh8 = numba.uint64(56)
    sh32 = numba.uint64(32)
    for j in range(N):
        acc = np.int64(0)
        for k in range(idx.shape[0]):
            i = idx[k]
            if not crossbar[i, j]:
                continue
            g = axon_type[i]
            w = np.int64(s[j, g])
            if b[j, g]:
                rho = np.int64(draw_nb(seed, cid, j, t, SYNAPSE, i) >> sh8)
                if abs(w) >= rho:
                    acc += _sgn(w)
            else:
                acc += w
        v = _sat(V[j] + acc)
        lj = np.int64(lam[j])
        if c_lambda[j]:
            rho = np.int64(draw_nb(seed, cid, j, t, LEAK, 0) >> sh8)
            lj = _sgn(lj) if abs(lj) >= rho else np.int64(0)
        if epsilon[j]:
            lj = lj * _sgn(v)
        v = _sat(v + lj)
        eta = np.int64(0)
        if TM[j] > 0:
            mask = (numba.uint64(1) << numba.uint64(TM[j])) - numba.uint64(1)
            eta = np.int64((draw_nb(seed, cid, j, t, THRESHOLD, 0) >> sh32) & mask)
        a = np.int64(alpha[j])
        bt = np.int64(beta[j])
        r = np.int64(R[j])
        gm = gamma[j]
        spk = v >= a + eta
        if spk:
            if gm == 0:
                v = r
            elif gm == 1:
                v = v - (a + eta)
        elif kappa[j]:
            if v < -bt:
                v = -bt
        elif v < -(bt + eta):
            if gm == 0:
                v = -r
            elif gm == 1:
                v = v + (bt + eta)
        V[j] = _sat(v)
        spikes[j] = spk


def step_core_nb(core, V: np.ndarray, active: np.ndarray, seed: int, cid: int, t: int) -> np.ndarray:
    """Advance one core by tick ``t`` (compiled). ``V`` (N,) int64 is updated in place; returns spikes (N,) bool."""
    spikes = np.zeros(core.n_neurons, dtype=np.bool_)
    idx = np.flatnonzero(active).astype(np.int64)
    _kernel(V, idx, core.crossbar, core.axon_type, core.s, core.b, core.lam, core.c_lambda, core.epsilon,
            core.alpha, core.beta, core.TM, core.gamma, core.kappa, core.R,
            np.uint64(seed), np.int64(cid), np.int64(t), spikes)
    return spikes
