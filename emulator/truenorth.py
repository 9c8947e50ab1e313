"""TrueNorth-style neurosynaptic cores: the Cassidy et al. (2013) digital neuron on a binary crossbar.

A. S. Cassidy et al., "Cognitive computing building block: A versatile and
efficient digital neuron model for neurosynaptic cores", IJCNN 2013. Every
quantity is an integer; the bit widths (constants below) follow the paper and
Akopyan et al. 2015 ("TrueNorth: Design and Tool Flow"). ``docs/truenorth.md``
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

from dataclasses import dataclass, fields

import numpy as np

from emulator.tn_random import LEAK, SYNAPSE, THRESHOLD, draw_np, draw_py, rho8, rho32
from neuromap.errors import ImageError

N_TYPES = 4
CORE_AXONS = CORE_NEURONS = 256
V_BITS = 20
V_MIN, V_MAX = -(2 ** (V_BITS - 1)), 2 ** (V_BITS - 1) - 1   # signed 20 bit
S_MAX = 255                                                # |s|, |lambda| <= 255 (sign + 8 bit)
THRESH_MAX = 2 ** 18 - 1                                   # alpha, beta: unsigned 18 bit
R_MIN, R_MAX = -(2 ** 17), 2 ** 17 - 1                     # R: signed 18 bit
TM_MAX = 17                                                # eta <= 2**17 - 1
GAMMA_MAX = 2
MIN_DELAY, MAX_DELAY = 1, 15                               # 4-bit axonal delay
_RING = 16                                                 # delay ring slots (> MAX_DELAY)


@dataclass
class TNCore:
    """Configuration of one core (plain numpy arrays; ``A`` axons, ``N`` neurons).

    crossbar (A, N) bool; axon_type (A,) uint8 0..3; s (N, 4) int16; b (N, 4)
    bool; lam, c_lambda, epsilon, alpha, beta, TM, gamma, kappa, R, V0 (N,)
    (ranges in the module docstring; V0 = V at tick 0, signed 20 bit);
    dest_core (N,) int32 (-1 = none), dest_axon (N,) int32, delay (N,) uint8 1..15.
    """

    crossbar: np.ndarray
    axon_type: np.ndarray
    s: np.ndarray
    b: np.ndarray
    lam: np.ndarray
    c_lambda: np.ndarray
    epsilon: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    TM: np.ndarray
    gamma: np.ndarray
    kappa: np.ndarray
    R: np.ndarray
    V0: np.ndarray
    dest_core: np.ndarray
    dest_axon: np.ndarray
    delay: np.ndarray

    @property
    def n_axons(self) -> int:
        return int(self.crossbar.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.crossbar.shape[1])


_DTYPES = {"crossbar": np.bool_, "axon_type": np.uint8, "s": np.int16, "b": np.bool_, "lam": np.int16,
           "c_lambda": np.bool_, "epsilon": np.bool_, "alpha": np.int32, "beta": np.int32, "TM": np.uint8,
           "gamma": np.uint8, "kappa": np.bool_, "R": np.int32, "V0": np.int32, "dest_core": np.int32,
           "dest_axon": np.int32, "delay": np.uint8}
_DEFAULTS = {"s": 0, "b": False, "lam": 0, "c_lambda": False, "epsilon": False, "alpha": 1, "beta": 0,
             "TM": 0, "gamma": 0, "kappa": False, "R": 0, "V0": 0, "dest_core": -1, "dest_axon": 0, "delay": 1}
_RANGES = {"axon_type": (0, N_TYPES - 1), "s": (-S_MAX, S_MAX), "lam": (-S_MAX, S_MAX),
           "alpha": (0, THRESH_MAX), "beta": (0, THRESH_MAX), "TM": (0, TM_MAX), "gamma": (0, GAMMA_MAX),
           "R": (R_MIN, R_MAX), "V0": (V_MIN, V_MAX), "dest_core": (-1, None), "dest_axon": (0, CORE_AXONS - 1),
           "delay": (MIN_DELAY, MAX_DELAY)}


def make_core(crossbar, axon_type=0, **params) -> TNCore:
    """A :class:`TNCore` from a crossbar and per-neuron values (scalars broadcast; defaults: s=0,
    alpha=1, every other field 0/False, dest_core=-1, delay=1). Checked with :func:`check_core`."""
    xb = np.asarray(crossbar, dtype=bool)
    if xb.ndim != 2:
        raise ImageError(f"truenorth core: crossbar must be 2-d (axons, neurons), got shape {xb.shape}")
    A, N = xb.shape
    unknown = set(params) - set(_DEFAULTS)
    if unknown:
        raise ImageError(f"truenorth core: unknown field {sorted(unknown)[0]!r} (allowed: {', '.join(_DEFAULTS)})")
    vals = {"crossbar": xb, "axon_type": np.broadcast_to(np.asarray(axon_type), (A,))}
    for k, d in _DEFAULTS.items():
        shape = (N, N_TYPES) if k in ("s", "b") else (N,)
        vals[k] = np.broadcast_to(np.asarray(params.get(k, d)), shape)
    for k, v in vals.items():
        if not _fits(k, v):
            raise ImageError(f"truenorth core: field {k} is outside {_RANGES[k]}")
    core = TNCore(**{k: np.array(v, dtype=_DTYPES[k]) for k, v in vals.items()})
    check_core(core)
    return core


def _fits(k: str, v) -> bool:
    if k not in _RANGES:
        return True
    lo, hi = _RANGES[k]
    a = np.asarray(v).astype(np.int64)
    return a.size == 0 or (a.min() >= lo and (hi is None or a.max() <= hi))


def check_core(core: TNCore, n_cores: int | None = None) -> None:
    """Raise a one-line :class:`ImageError` if a field has the wrong dtype/shape or leaves its bit width."""
    A, N = core.crossbar.shape
    if A > CORE_AXONS or N > CORE_NEURONS:
        raise ImageError(f"truenorth core: {A} axons x {N} neurons exceeds {CORE_AXONS} x {CORE_NEURONS}")
    for f in fields(TNCore):
        a = getattr(core, f.name)
        shape = (A, N) if f.name == "crossbar" else (A,) if f.name == "axon_type" else \
            (N, N_TYPES) if f.name in ("s", "b") else (N,)
        if not isinstance(a, np.ndarray) or a.dtype != _DTYPES[f.name] or a.shape != shape:
            raise ImageError(f"truenorth core: field {f.name} must be {np.dtype(_DTYPES[f.name]).name} "
                             f"{shape}, got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}")
        if not _fits(f.name, a):
            raise ImageError(f"truenorth core: field {f.name} is outside {_RANGES[f.name]}")
    if n_cores is not None and core.dest_core.size and core.dest_core.max() >= n_cores:
        raise ImageError(f"truenorth core: dest_core {core.dest_core.max()} does not exist ({n_cores} cores)")


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
        from emulator.truenorth_numba import step_core_nb
        return step_core_nb

    def ref(c, V, active, seed, cid, t):
        v = [int(x) for x in V]
        sp = reference_step(c, v, active, seed, cid, t)
        V[:] = v
        return np.asarray(sp, dtype=bool)
    return ref
