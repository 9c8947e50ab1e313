"""Loihi 2-factor on-chip learning, bit-identical to Lava 0.10.0 ``LearningDense``/``LearningSparse``
fixed_pt models (``LearningConnectionModelBitApproximate``, lava/magma/core/model/py/connection.py).

One projection = one :class:`neuromap.learning_rules.LearningConfig` (the parsed rule) + one
:class:`LearningState` (traces, spike times, tags, random streams) + the caller's weight array, updated in
place by :func:`learning_step` once per time step t = 1, 2, ... Here: the state, Lava's random streams and
constants; the arithmetic is :mod:`neuromap.learning_engines.loihi_numba` (its one implementation; checked
against Lava's ``LearningDense`` step by step and against hand-computed cases). The image engine ``loihi``
(:mod:`neuromap.learning_engines.loihi`) runs a projection through these functions.

Weights are Dense ``(n_post, n_pre)`` or the ``data`` of a CSR matrix over posts (``indptr``,
``indices`` given to :func:`make_state`). Semantics, bit widths and Lava line citations:
docs/learning.md. Integers: traces 0..127 (7 b), weights int32 saturated to 8 b + sign, tags
(tag_2 = delay ``d``, tag_1 = tag ``t``) 8 b + sign, synaptic accumulator 15 b + sign.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuromap.learning_engines.loihi_numba import step as numba_step
from neuromap.learning_rules import LearningConfig

W_TRACE = 7                       # constants.py:48
W_TRACE_FRACTIONAL_PART = 8       # constants.py:49
_DRAW_BLOCK = 8192


def decompose_impulses(impulses) -> tuple[np.ndarray, np.ndarray]:
    """Impulse -> (integer part, 8-bit fraction 0..256), as Lava connection.py:650 (np.round: half-even)."""
    impulses = np.array(impulses)
    impulses_int = np.floor(impulses)
    impulses_frac = np.round((impulses - impulses_int) * 2 ** W_TRACE_FRACTIONAL_PART)
    return impulses_int.astype(np.int64), impulses_frac.astype(np.int64)


def decay_factors(taus) -> np.ndarray:
    """exp(-1/tau) per trace, computed with numpy on Lava's array layout (connection.py:841,890);
    0.0 where tau == 0 (that trace is 0 on every step without a spike)."""
    taus = np.array(taus)
    out = np.zeros(taus.shape, np.float64)
    nz = taus != 0
    out[nz] = np.exp(-1 / taus[nz][:, np.newaxis])[:, 0]
    return out


def truncate_weights(cfg: LearningConfig, weights: np.ndarray) -> np.ndarray:
    """Lava's one-off truncation of the initial weights (models.py ``run_spk`` at t=1,
    lava/utils/weightutils.py:204): drop ``8 - num_weight_bits + (mixed)`` LSBs (towards -inf for
    mixed/excitatory, towards 0 for inhibitory). Returns a new int32 array. For CSR weights Lava
    then drops the entries that became 0 (``eliminate_zeros``): see :func:`truncate_csr`."""
    w = np.array(weights).astype(np.int32)
    inh = cfg.sign_mode == "inhibitory"
    nbits = 8 - cfg.num_weight_bits + int(cfg.sign_mode == "mixed")
    if inh:
        w = -w
    w = (w >> nbits) << nbits
    return -w if inh else w


def truncate_csr(cfg: LearningConfig, indptr, indices, data):
    """:func:`truncate_weights` for CSR weights, dropping entries that became 0 (Lava sparse/models.py:180)."""
    w = truncate_weights(cfg, data)
    keep = w != 0
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    new_indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=len(indptr) - 1))])
    return new_indptr.astype(np.int64), np.asarray(indices)[keep].astype(np.int64), w[keep]


class _Stream:
    """Sequential draws of one Lava generator, addressable by draw index (0 = drawn at construction).

    Lava draws one value per call (``rng.random(1)[0]`` / ``rng.integers(0, 128, size=1)[0]``,
    lava/magma/core/learning/random.py); numpy's PCG64 gives the same sequence in blocks.
    """

    def __init__(self, seed: int, kind: str):
        self._rng = np.random.default_rng(seed=seed)
        self._kind = kind
        self._start = 0
        self._buf = self._draw(_DRAW_BLOCK)

    def _draw(self, n):
        if self._kind == "float":
            return self._rng.random(n)
        return self._rng.integers(0, 2 ** W_TRACE, size=n, dtype=int)

    def __getitem__(self, k: int):
        if k < self._start:
            raise ValueError(f"draw {k} already discarded")
        while k >= self._start + len(self._buf):
            self._start += len(self._buf)
            self._buf = self._draw(_DRAW_BLOCK)
        return self._buf[k - self._start]


@dataclass
class RandomStreams:
    """Lava's five learning generators (connection.py:680): x trace decay/impulse (seed, seed+1),
    y trace decay/impulse (seed+2, seed+3), synaptic-variable rounding (ConnVarRandom, seed 2).

    Trace streams advance twice per step (connection.py:393,414), so after step t the current
    draw is 2t; post multi-spike impulses at step t use draw 2t-1. The synaptic stream advances
    once per learning epoch before use: epoch e (1, 2, ...) uses draw e.
    """

    x_decay: _Stream
    x_impulse: _Stream
    y_decay: _Stream
    y_impulse: _Stream
    conn: _Stream

    @classmethod
    def from_config(cls, cfg: LearningConfig) -> "RandomStreams":
        s = cfg.rng_seed
        return cls(_Stream(s, "float"), _Stream(s + 1, "int"), _Stream(s + 2, "float"),
                   _Stream(s + 3, "int"), _Stream(cfg.conn_rng_seed, "float"))


@dataclass
class LearningState:
    """Per-projection learning state (all int64 unless stated).

    tx (n_pre,), ty (n_post,): within-epoch step of the last spike, 1..t_epoch (0 = none; 6 b).
    x (2, n_pre): traces x1, x2; y (3, n_post): y1, y2, y3 (0..127, value at the last epoch end,
    plus multi-spike impulses). tag_1, tag_2: same shape as the weights. indptr/indices: CSR
    structure over posts (None = dense). t: last step processed; epochs: learning epochs done.
    """

    n_pre: int
    n_post: int
    tx: np.ndarray
    ty: np.ndarray
    x: np.ndarray
    y: np.ndarray
    tag_1: np.ndarray
    tag_2: np.ndarray
    indptr: np.ndarray | None
    indices: np.ndarray | None
    streams: RandomStreams
    t: int = 0
    epochs: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def x0(self) -> np.ndarray:
        return self.tx > 0

    @property
    def y0(self) -> np.ndarray:
        return self.ty > 0

    @property
    def dense(self) -> bool:
        return self.indptr is None


def make_state(cfg: LearningConfig, n_pre: int, n_post: int, *, indptr=None, indices=None,
               tag_1=None, tag_2=None) -> LearningState:
    """Fresh state (Lava initial values: traces, spike times and tags 0)."""
    if (indptr is None) != (indices is None):
        raise ValueError("give both indptr and indices (CSR) or neither (dense)")
    if indptr is not None:
        indptr = np.asarray(indptr, np.int64)
        indices = np.asarray(indices, np.int64)
        if indptr.shape != (n_post + 1,) or indptr[-1] != len(indices):
            raise ValueError("indptr must have n_post + 1 entries ending at len(indices)")
        shape = (len(indices),)
    else:
        shape = (n_post, n_pre)
    tags = [np.zeros(shape, np.int64) if v is None else np.array(v, np.int64).reshape(shape)
            for v in (tag_1, tag_2)]
    return LearningState(n_pre, n_post, np.zeros(n_pre, np.int64), np.zeros(n_post, np.int64),
                         np.zeros((2, n_pre), np.int64), np.zeros((3, n_post), np.int64),
                         tags[0], tags[1], indptr, indices, RandomStreams.from_config(cfg))


def _consts(cfg: LearningConfig, state: LearningState) -> dict:
    c = state._cache.get("consts")
    if c is None:
        xi, xf = decompose_impulses([cfg.x1_impulse, cfg.x2_impulse])
        yi, yf = decompose_impulses([cfg.y1_impulse, cfg.y2_impulse, cfg.y3_impulse])
        x_taus = np.array([cfg.x1_tau, cfg.x2_tau])
        y_taus = np.array([cfg.y1_tau, cfg.y2_tau, cfg.y3_tau])
        c = dict(xi=xi, xf=xf, yi=yi, yf=yf, x_dec=decay_factors(x_taus), y_dec=decay_factors(y_taus),
                 x_nz=x_taus != 0, y_nz=y_taus != 0)
        state._cache["consts"] = c
    return c


def _draws(cfg: LearningConfig, state: LearningState, t: int, learn: bool) -> tuple:
    """(r_y_imp_spk, r_x_dec, r_x_imp, r_y_dec, r_y_imp, r_conn) for step t."""
    s = state.streams
    r_spk = int(s.y_impulse[2 * t - 1])
    if not learn:
        return r_spk, 0.0, 0, 0.0, 0, 0.0
    return (r_spk, float(s.x_decay[2 * t]), int(s.x_impulse[2 * t]), float(s.y_decay[2 * t]),
            int(s.y_impulse[2 * t]), float(s.conn[state.epochs + 1]))


def learning_step(cfg: LearningConfig, state: LearningState, weights: np.ndarray, pre_spikes,
                  post_spikes, t: int) -> None:
    """Advance one time step t (1-based, consecutive): record pre/post spikes and, when
    t % t_epoch == 0, run the learning epoch (traces, dw/dd/dt). Updates ``state`` and
    ``weights`` (int32) in place.

    pre_spikes (n_pre,), post_spikes (n_post,): bool (binary spikes; post = back-propagating
    action potentials of the post neurons at step t, Lava ``s_in_bap``).
    """
    if t != state.t + 1:
        raise ValueError(f"learning_step expects step {state.t + 1}, got {t}")
    pre = np.asarray(pre_spikes, bool)
    post = np.asarray(post_spikes, bool)
    if pre.shape != (state.n_pre,) or post.shape != (state.n_post,):
        raise ValueError("spike vectors must have shapes (n_pre,) and (n_post,)")
    T = cfg.t_epoch
    learn = t % T == 0                                   # lrn_guard, connection.py:428
    draws = _draws(cfg, state, t, learn)
    u = int((t // T) % (2 ** cfg.decimate_exponent) == 0) if cfg.decimate_exponent is not None else 0
    numba_step(cfg, state, weights, pre, post, t, learn, u, draws, _consts(cfg, state))
    state.t = t
    if learn:
        state.epochs += 1
