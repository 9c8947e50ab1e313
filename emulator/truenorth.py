"""TrueNorth-style neurosynaptic cores: the Cassidy et al. (2013) digital neuron on a binary crossbar.

A. S. Cassidy et al., "Cognitive computing building block: A versatile and
efficient digital neuron model for neurosynaptic cores", IJCNN 2013. Every
quantity is an integer; the bit widths follow the paper and Akopyan et al. 2015
("TrueNorth: Design and Tool Flow"); they, the per-core record :class:`TNCore` and its
checks are the core kind's (:mod:`neuromap.core_kinds.truenorth`). ``docs/truenorth.md``
gives the equations with every mode.

One core: ``A <= 256`` axons, ``N <= 256`` neurons, a binary crossbar
``w[i, j]``, an axon type ``G_i`` in 0..3 per axon, and per neuron ``j``:

======================  =============================  ===========================
symbol (field)          meaning                        width / range
======================  =============================  ===========================
``s_j^G`` (s[j, G])     weight of axon type G          signed 9 bit, -255..255
``b_j^G`` (b[j, G])     stochastic synapse of type G   1 bit
``lambda_j`` (lam)      leak                           signed 9 bit, -255..255
``c_j^lambda``          stochastic leak                1 bit
``epsilon_j``           leak reversal                  1 bit
``alpha_j``             positive threshold             unsigned 18 bit
``beta_j``              negative threshold (-beta)     unsigned 18 bit
``TM_j``                threshold mask ``M=2**TM-1``   0..17
``gamma_j``             reset mode 0 set/1 linear/2 no 2 bit, 0..2
``kappa_j``             negative saturation            1 bit
``R_j``                 reset potential                signed 18 bit
``V_j``                 membrane potential             signed 20 bit, saturating
======================  =============================  ===========================

Tick ``t`` of neuron ``j`` (``A_i(t)`` = axon ``i`` received a spike for tick ``t``):

1. synaptic integration (eq. 1-2)::

       V = sat20(V + sum_i A_i w_ij [(1 - b) s + b F(s, rho_ij) sgn(s)]),   s = s_j^{G_i}, b = b_j^{G_i}

   with ``F(s, rho) = 1 if |s| >= rho else 0`` and ``rho_ij`` an 8-bit draw.
   The sum of one tick is accumulated at full width (|sum| <= 256*255) and
   ``V + sum`` saturates to ``[-2**19, 2**19 - 1]``.
2. leak (eq. 3)::

       Omega = (1 - epsilon) + epsilon sgn(V)
       V = sat20(V + Omega [(1 - c) lambda + c F(lambda, rho_j^lambda) sgn(lambda)])

3. threshold, fire, reset (eq. 4-6), ``eta = rho_j^T & M_j`` (32-bit draw)::

       if V >= alpha + eta:  spike;  V = d(gamma) R + d(gamma-1) (V - (alpha + eta)) + d(gamma-2) V
       elif V < -(beta kappa + (beta + eta)(1 - kappa)):
           V = -beta kappa + [-d(gamma) R + d(gamma-1) (V + (beta + eta)) + d(gamma-2) V] (1 - kappa)

   (``d`` is the Kronecker delta.)

A spike of neuron ``j`` at tick ``t`` goes to exactly one axon
(``dest_core[j]``, ``dest_axon[j]``) and makes it active at tick
``t + delay[j]``, ``delay`` in 1..15 (4 bit); ``dest_core = -1``: no target
(the spike is only recorded). Several spikes for the same axon and tick are one
activation (``A_i`` is binary). Random numbers: :mod:`emulator.tn_random`.

Engines: ``numpy`` (vectorized), ``numba`` (:mod:`emulator.truenorth_numba`)
and ``reference`` (:func:`reference_step`: scalar loops written straight from
the equations). All three are bit-identical (tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulator.tn_random import LEAK, SYNAPSE, THRESHOLD, draw_np, draw_py, rho8, rho32
from emulator.truenorth_numba import step_core_nb
# the core record and its widths are the core kind's (neuromap/core_kinds/truenorth.py); importable from here too
from neuromap.core_kinds.truenorth import (  # noqa: F401
    CORE_AXONS, CORE_NEURONS, GAMMA_MAX, MAX_DELAY, MIN_DELAY, N_TYPES, R_MAX, R_MIN, S_MAX, THRESH_MAX, TM_MAX, V_BITS,
    V_MAX, V_MIN, TNCore, check_core, make_core)
from neuromap.errors import ImageError

_RING = 16                                                 # delay ring slots (> MAX_DELAY)


# --------------------------------------------------------------- numpy step
def _sat(x: np.ndarray) -> np.ndarray:
    return np.clip(x, V_MIN, V_MAX)


def step_core_np(core: TNCore, V: np.ndarray, active: np.ndarray, seed: int, cid: int, t: int) -> np.ndarray:
    """Advance one core by tick ``t`` (vectorized). ``V`` (N,) int64 is updated in place; returns spikes (N,) bool."""
    N = core.n_neurons
    j_all = np.arange(N)
    idx = np.flatnonzero(active)
    syn = np.zeros(N, dtype=np.int64)
    if idx.size:
        conn = core.crossbar[idx]                       # (k, N)
        g = core.axon_type[idx]
        sw = core.s[:, g].T.astype(np.int64)             # s_j^{G_i}, (k, N)
        stoch = core.b[:, g].T & conn
        syn += np.where(conn & ~stoch, sw, 0).sum(axis=0)
        ii, jj = np.nonzero(stoch)
        if ii.size:
            rho = rho8(draw_np(seed, cid, jj, t, SYNAPSE, idx[ii])).astype(np.int64)
            w = sw[ii, jj]
            np.add.at(syn, jj, np.where(np.abs(w) >= rho, np.sign(w), 0))
    v = _sat(V + syn)
    lam = core.lam.astype(np.int64)
    if core.c_lambda.any():
        rho_l = rho8(draw_np(seed, cid, j_all, t, LEAK, 0)).astype(np.int64)
        lam = np.where(core.c_lambda, np.where(np.abs(lam) >= rho_l, np.sign(lam), 0), lam)
    omega = np.where(core.epsilon, np.sign(v), 1)
    v = _sat(v + omega * lam)
    eta = np.zeros(N, dtype=np.int64)
    if core.TM.any():
        mask = (np.uint64(1) << core.TM.astype(np.uint64)) - np.uint64(1)
        eta = (rho32(draw_np(seed, cid, j_all, t, THRESHOLD, 0)) & mask).astype(np.int64)
    alpha, beta, R = (core.alpha.astype(np.int64), core.beta.astype(np.int64), core.R.astype(np.int64))
    gamma, kappa = core.gamma, core.kappa
    pos = v >= alpha + eta
    neg = ~pos & (v < -np.where(kappa, beta, beta + eta))
    v_pos = np.select([gamma == 0, gamma == 1], [R, v - (alpha + eta)], v)
    v_neg = np.where(kappa, -beta, np.select([gamma == 0, gamma == 1], [-R, v + (beta + eta)], v))
    V[:] = _sat(np.where(pos, v_pos, np.where(neg, v_neg, v)))
    return pos


# --------------------------------------------------------- scalar reference
def _sgn(x: int) -> int:
    return (x > 0) - (x < 0)


def _delta(x: int) -> int:
    return 1 if x == 0 else 0


def _F(s: int, rho: int) -> int:
    return 1 if abs(s) >= rho else 0


def _sat_py(x: int) -> int:
    return min(max(x, V_MIN), V_MAX)


def reference_step(core: TNCore, V: list, active, seed: int, cid: int, t: int) -> list:
    """Scalar reference: one tick of every neuron, Python ints, the paper's equations term by term.

    ``V`` (list of int) is updated in place; returns the list of spikes (0/1).
    """
    A, N = core.crossbar.shape
    out = []
    for j in range(N):
        total = 0
        for i in range(A):
            if not (active[i] and core.crossbar[i, j]):
                continue  # A_i(t) w_ij = 0
            G = int(core.axon_type[i])
            s, b = int(core.s[j, G]), int(core.b[j, G])
            rho = int(rho8(draw_py(seed, cid, j, t, SYNAPSE, i)))
            total += (1 - b) * s + b * _F(s, rho) * _sgn(s)
        Vj = _sat_py(int(V[j]) + total)
        eps, c, lam = int(core.epsilon[j]), int(core.c_lambda[j]), int(core.lam[j])
        omega = (1 - eps) + eps * _sgn(Vj)
        rho_l = int(rho8(draw_py(seed, cid, j, t, LEAK, 0)))
        Vj = _sat_py(Vj + omega * ((1 - c) * lam + c * _F(lam, rho_l) * _sgn(lam)))
        M = (1 << int(core.TM[j])) - 1
        eta = int(rho32(draw_py(seed, cid, j, t, THRESHOLD, 0))) & M
        alpha, beta, R = int(core.alpha[j]), int(core.beta[j]), int(core.R[j])
        gamma, kappa = int(core.gamma[j]), int(core.kappa[j])
        spike = 0
        if Vj >= alpha + eta:
            spike = 1
            Vj = _delta(gamma) * R + _delta(gamma - 1) * (Vj - (alpha + eta)) + _delta(gamma - 2) * Vj
        elif Vj < -(beta * kappa + (beta + eta) * (1 - kappa)):
            Vj = -beta * kappa + (-_delta(gamma) * R + _delta(gamma - 1) * (Vj + (beta + eta))
                                  + _delta(gamma - 2) * Vj) * (1 - kappa)
        V[j] = _sat_py(Vj)
        out.append(spike)
    return out


# --------------------------------------------------------------------- run
@dataclass
class TNResult:
    """Output of :func:`run`: per core, ``spikes`` (T, N) bool and ``v`` (T, N) int32 (V after tick t)
    or ``None`` when V was not recorded."""

    spikes: list[np.ndarray]
    v: list[np.ndarray] | None


ENGINES = ("numpy", "numba", "reference")


def run(cores: list[TNCore], n_ticks: int, inputs: np.ndarray | None = None, seed: int = 0,
        engine: str = "numpy", record_v: bool = False) -> TNResult:
    """Run ``cores`` for ``n_ticks`` ticks.

    ``inputs``: int array (K, 3) of ``(tick, core, axon)``: axon ``axon`` of core
    ``core`` is active at ``tick`` (host-injected spikes). ``seed``: 64-bit seed of
    :mod:`emulator.tn_random`. ``engine``: one of :data:`ENGINES`.
    """
    if engine not in ENGINES:
        raise ImageError(f"truenorth engine {engine!r} is unknown (use one of {', '.join(ENGINES)})")
    C = len(cores)
    for c in cores:
        check_core(c, C)
        if c.dest_core.size and np.any((c.dest_core >= 0) & (c.dest_axon >= np.array(
                [cores[d].n_axons if d >= 0 else CORE_AXONS for d in c.dest_core]))):
            raise ImageError("truenorth core: a neuron targets an axon its destination core does not have")
    ring = [np.zeros((_RING, c.n_axons), dtype=bool) for c in cores]
    if inputs is not None and len(inputs):
        inp = np.asarray(inputs, dtype=np.int64).reshape(-1, 3)
        if inp[:, 1].min() < 0 or inp[:, 1].max() >= C or inp[:, 0].min() < 0:
            raise ImageError("truenorth inputs: a spike names a core that does not exist or a negative tick")
        inp = inp[np.argsort(inp[:, 0], kind="stable")]
    else:
        inp = np.zeros((0, 3), dtype=np.int64)
    V = [c.V0.astype(np.int64) for c in cores]
    spikes = [np.zeros((n_ticks, c.n_neurons), dtype=bool) for c in cores]
    vrec = [np.zeros((n_ticks, c.n_neurons), dtype=np.int32) for c in cores] if record_v else None
    step = _stepper(engine)
    k = 0
    for t in range(n_ticks):
        slot = t % _RING
        while k < len(inp) and inp[k, 0] == t:
            ring[inp[k, 1]][slot, inp[k, 2]] = True
            k += 1
        for cid, c in enumerate(cores):
            active = ring[cid][slot].copy()
            ring[cid][slot] = False
            sp = step(c, V[cid], active, seed, cid, t)
            spikes[cid][t] = sp
            if record_v:
                vrec[cid][t] = V[cid]
            fired = np.flatnonzero(sp & (c.dest_core >= 0))
            for j in fired:
                ring[c.dest_core[j]][(t + int(c.delay[j])) % _RING, c.dest_axon[j]] = True
    return TNResult(spikes=spikes, v=vrec)


def _stepper(engine: str):
    if engine == "numpy":
        return step_core_np
    if engine == "numba":
        return step_core_nb

    def ref(c, V, active, seed, cid, t):
        v = [int(x) for x in V]
        sp = reference_step(c, v, active, seed, cid, t)
        V[:] = v
        return np.asarray(sp, dtype=bool)
    return ref
