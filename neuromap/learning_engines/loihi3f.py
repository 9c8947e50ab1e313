"""Learning engine ``loihi3f``: Lava 0.10.0's three-factor learning (``Loihi3FLearningRule``), e.g. R-STDP.

A ``Loihi3FLearningRule`` connection (``LearningDense``) does not filter its post traces itself: every step it
*receives* y1, y2, y3 from the post neuron (``s_in_y1..3``, connection.py:398) and overwrites its y traces with
them; its own y impulses are 0 and y time constants 65535 (``np.iinfo(np.uint16).max``, learning_rule.py:743),
so within an epoch the received values only pass through the stochastic decay ``exp(-1/65535)`` and the 0..127
clip at the post spike step. Lava 0.10 ships no fixed-point neuron that sends y traces; the one its own tests use
for R-STDP (``RSTDPLIFBitAcc``, tests/lava/proc/dense/test_stdp_sim.py; Lava's three-factor tutorial) computes,
in its ``run_spk`` at step t, before the LIF update:

- ``y1 = floor(y1 * exp(-1/post_tau) + post_impulse * s[t-1])`` (float64; ``s[t-1]`` its spikes of the previous
  step; not saturated),
- after the LIF update ``y2 = a_third_factor_in`` (the third factor received at step t), ``y3`` stays 0,

and sends the step's spikes on ``s_out_bap``. This engine is that neuron's learning side plus the connection:
:func:`step` computes y1 from the post spikes it is given, takes y2 from the **third factor**, and runs the
``loihi`` engine's arithmetic (:mod:`neuromap.learning_engines.loihi_step` numpy, :mod:`~.loihi_numba` numba:
one source for both engines) with the received traces put in between the spike phase and the learning phase,
exactly where Lava's ``recv_traces`` puts them.

The third factor is host-written (Loihi 2's third-factor input written by the host or an embedded core once per
step): the image lists its nonzero values as events, ``learning_arrays``
``third_factor_step`` (1-based Lava time step), ``third_factor_post`` (post neuron, population-local) and
``third_factor_value`` (int, 24-bit graded payload); post -1 writes every post neuron, a step's events apply in
array order (a later one overrides); every other (step, post) has 0. ``backends/lava`` feeds the
same values into ``a_third_factor_in`` from a ``RingBuffer`` (:mod:`backends.lava.procs.third_factor_lif`).

Image dict: ``{"engine": "loihi3f", **LearningConfig.to_dict(), "post_impulse": K, "post_tau": tau}``;
:func:`rstdp_config` builds Lava's ``RewardModulatedSTDP``. Equations, order and bit widths: docs/learning.md,
*Three-factor learning*.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neuromap.errors import ImageError, NetworkFormatError
from neuromap.learning_engines import loihi, loihi_step
from neuromap.learning_engines.loihi_numba import step as numba_step
from neuromap.learning_rules import LearningConfig, config_from_rules, float_to_literal

ENGINE = "loihi3f"
#: the post membrane v is not read
READS_V = False
#: Loihi3FLearningRule's fixed y-trace settings of the connection (learning_rule.py:743)
Y_TAU = int(np.iinfo(np.uint16).max)
#: the third-factor event arrays
ARRAYS = ("third_factor_step", "third_factor_post", "third_factor_value")
#: range of a third-factor value (24-bit graded spike payload)
VALUE_MIN, VALUE_MAX = -(2 ** 23), 2 ** 23 - 1


def rstdp_config(*, learning_rate: float, A_plus: float, A_minus: float, pre_trace_decay_tau: float,
                 pre_trace_kernel_magnitude: float, eligibility_trace_decay_tau: float, rng_seed: int,
                 t_epoch: int = 1, sign_mode: str = "mixed", num_weight_bits: int = 8) -> LearningConfig:
    """The connection side of Lava 0.10's ``RewardModulatedSTDP`` (lava/proc/learning_rules/r_stdp_learning_rule.py):
    tag (eligibility) ``dt = lr A- x0 y1 + lr A+ y0 x1 - u0 t tau_e``, weight ``dw = u0 t y2``, every float
    written as Lava's ``(m) * 2 ^ e`` literal; x1: impulse ``pre_trace_kernel_magnitude``, time constant
    ``pre_trace_decay_tau``; y traces as ``Loihi3FLearningRule`` sets them. Parsing needs lava-nc."""
    for name, v in (("learning_rate", learning_rate), ("A_plus", A_plus), ("A_minus", A_minus),
                    ("eligibility_trace_decay_tau", eligibility_trace_decay_tau)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise NetworkFormatError(f"{v!r} is not a finite number", field=name)
    lr = float_to_literal(learning_rate)
    dt = (f"{lr} * {float_to_literal(A_minus)} * x0 * y1 + {lr} * {float_to_literal(A_plus)} * y0 * x1 - "
          f"u0 * t * {float_to_literal(eligibility_trace_decay_tau)}")
    return config_from_rules(dw="u0 * t * y2", dt=dt, rng_seed=rng_seed, x1_impulse=pre_trace_kernel_magnitude,
                             x1_tau=pre_trace_decay_tau, y1_tau=Y_TAU, y2_tau=Y_TAU, y3_tau=Y_TAU,
                             t_epoch=t_epoch, sign_mode=sign_mode, num_weight_bits=num_weight_bits)


def _number(d, key, where, lo, strict=False):
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < lo or (strict and v == lo):
        raise ImageError(f"{where}: loihi3f learning {key} {v!r} must be a finite number "
                         f"{'>' if strict else '>='} {lo} (recompile)")
    return float(v)


@dataclass(frozen=True)
class Schema:
    """The typed image configuration: the connection's :class:`LearningConfig` (a three-factor rule: y impulses
    0, y taus 65535) and the post neuron's y1 filter (``post_impulse`` per spike, time constant ``post_tau``
    steps)."""

    ENGINE: ClassVar[str] = ENGINE
    ARRAYS: ClassVar[dict[str, str]] = {
        "third_factor_step": "int[K]: 1-based time step of each nonzero third-factor value (optional)",
        "third_factor_post": "int[K]: post neuron (population-local) receiving it; -1: every post neuron",
        "third_factor_value": f"int[K]: the value (y2 of that neuron in that step), in [{VALUE_MIN}, {VALUE_MAX}]"}
    config: LearningConfig
    post_impulse: float
    post_tau: float

    @classmethod
    def from_dict(cls, d, where: str = "image learning", fill_defaults: bool = False) -> "Schema":
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ImageError(f"{where}: learning must be a dict naming its engine")
        post_impulse = _number(d, "post_impulse", where, 0.0)
        post_tau = _number(d, "post_tau", where, 0.0, strict=True)
        cfg = loihi.Schema.from_dict({k: v for k, v in d.items() if k not in ("post_impulse", "post_tau")},
                                     where).config
        for y in ("y1", "y2", "y3"):
            if getattr(cfg, f"{y}_impulse") != 0 or getattr(cfg, f"{y}_tau") != Y_TAU:
                raise ImageError(f"{where}: loihi3f learning {y}_impulse/{y}_tau must be 0/{Y_TAU} (the post "
                                 "neuron sends the y traces; recompile)")
        return cls(cfg, post_impulse, post_tau)

    def to_dict(self) -> dict:
        return {"engine": ENGINE, **self.config.to_dict(), "post_impulse": self.post_impulse,
                "post_tau": self.post_tau}

    def check_projection(self, sign_mode: str, num_weight_bits: int, where: str) -> None:
        """The rule's sign_mode and num_weight_bits are the projection's."""
        loihi.Schema(self.config).check_projection(sign_mode, num_weight_bits, where)

    def check_arrays(self, arrays: dict, n_syn: int, where: str, n_post: int | None = None) -> None:
        unknown = sorted(set(arrays) - set(ARRAYS))
        if unknown:
            raise ImageError(f"{where}: loihi3f learning array {unknown[0]!r} is unknown (it has "
                             f"{', '.join(ARRAYS)}; recompile)")
        if not arrays:
            return
        if set(arrays) != set(ARRAYS):
            raise ImageError(f"{where}: loihi3f learning needs all of {', '.join(ARRAYS)} or none (recompile)")
        a = {k: np.asarray(v) for k, v in arrays.items()}
        k = a["third_factor_step"].shape
        if len(k) != 1 or any(v.shape != k for v in a.values()) or any(v.dtype.kind not in "iu" for v in a.values()):
            raise ImageError(f"{where}: loihi3f third_factor_step/post/value must be integer arrays of one "
                             "length (recompile)")
        st, po, va = a["third_factor_step"], a["third_factor_post"], a["third_factor_value"]
        if st.size and (st.min() < 1 or po.min() < -1 or va.min() < VALUE_MIN or va.max() > VALUE_MAX
                        or (n_post is not None and po.max() >= n_post)):
            raise ImageError(f"{where}: loihi3f third-factor events out of range (step >= 1, post -1 or a neuron "
                             f"of the post population, value in [{VALUE_MIN}, {VALUE_MAX}]; recompile)")


@dataclass
class ThirdFactor:
    """The host-written third factor: events sorted by step (``steps``, ``posts``, ``values``, int64) and the
    cursor of the next unread event."""

    steps: np.ndarray
    posts: np.ndarray
    values: np.ndarray
    cursor: int = 0

    @classmethod
    def from_arrays(cls, arrays: dict) -> "ThirdFactor":
        if not arrays:
            z = np.zeros(0, np.int64)
            return cls(z, z, z)
        st = np.asarray(arrays["third_factor_step"], np.int64)
        order = np.argsort(st, kind="stable")
        return cls(st[order], np.asarray(arrays["third_factor_post"], np.int64)[order],
                   np.asarray(arrays["third_factor_value"], np.int64)[order])

    def write(self, t: int, out: np.ndarray) -> None:
        """``out`` <- the values of step ``t`` (0 where none; a step's events in image order, a later one
        overriding); steps are read in order."""
        out[:] = 0
        c = self.cursor
        while c < self.steps.size and self.steps[c] < t:
            c += 1
        while c < self.steps.size and self.steps[c] == t:
            if self.posts[c] < 0:
                out[:] = self.values[c]
            else:
                out[self.posts[c]] = self.values[c]
            c += 1
        self.cursor = c


@dataclass
class State:
    """One projection: the ``loihi`` engine's state over a CSR-by-post view (see
    :class:`neuromap.learning_engines.loihi.State`), the post neurons' y1 filter (float64, Lava's
    ``RSTDPLIFBitAcc.y1``), their spikes of the previous step, the third factor and the emulator engine."""

    cfg: LearningConfig
    post_impulse: float
    post_decay: float
    ls: object
    order: np.ndarray
    w_csr: np.ndarray
    y1: np.ndarray
    prev_post: np.ndarray
    y2: np.ndarray
    third: ThirdFactor
    started: bool = False


def make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> State:
    """State of one projection (``learning``: its :class:`Schema` or image dict)."""
    sch = Schema.from_dict(learning, "loihi3f learning")
    sch.check_arrays(arrays, len(pre_idx), "loihi3f learning", n_post=n_post)
    pre_idx = np.asarray(pre_idx, np.int64)
    post_idx = np.asarray(post_idx, np.int64)
    order = np.lexsort((pre_idx, post_idx))
    indptr = np.zeros(n_post + 1, np.int64)
    np.cumsum(np.bincount(post_idx, minlength=n_post), out=indptr[1:])
    ls = loihi_step.make_state(sch.config, n_pre, n_post, indptr=indptr, indices=pre_idx[order])
    decay = float(np.exp(-1 / np.float64(sch.post_tau)))        # numpy's exp, as RSTDPLIFBitAcc
    return State(sch.config, sch.post_impulse, decay, ls, order, np.zeros(order.size, np.int32),
                 np.zeros(n_post, np.float64), np.zeros(n_post, bool), np.zeros(n_post, np.int64),
                 ThirdFactor.from_arrays(arrays))


def post_traces(state: State, post_spikes, t: int) -> np.ndarray:
    """The (3, n_post) traces the post neuron sends at step ``t``: y1 from its spikes up to ``t - 1``, y2 the
    third factor of ``t``, y3 = 0. Advances the neuron side (call once per step, in order)."""
    state.y1[:] = np.floor(state.y1 * state.post_decay + state.post_impulse * state.prev_post)
    state.prev_post[:] = post_spikes
    state.third.write(t, state.y2)
    return np.stack([state.y1.astype(np.int64), state.y2, np.zeros_like(state.y2)])


def learning_step_3f(cfg: LearningConfig, ls, weights: np.ndarray, pre_spikes, post_spikes, t: int,
                     y_in: np.ndarray) -> None:
    """:func:`neuromap.learning_engines.loihi_step.learning_step` of a three-factor connection: the spike phase,
    then the y traces overwritten with ``y_in`` (3, n_post) (Lava ``recv_traces``), then, when
    ``t % t_epoch == 0``, the learning phase, after which the y traces are the received ones again (Lava sets only
    x from the epoch's history for a 3F rule). ``weights``: int32, updated in place."""
    if t != ls.t + 1:
        raise ValueError(f"learning_step_3f expects step {ls.t + 1}, got {t}")
    pre = np.asarray(pre_spikes, bool)
    post = np.asarray(post_spikes, bool)
    T = cfg.t_epoch
    learn = t % T == 0
    draws = loihi_step._draws(cfg, ls, t, learn)
    u = int((t // T) % (2 ** cfg.decimate_exponent) == 0) if cfg.decimate_exponent is not None else 0
    c = loihi_step._consts(cfg, ls)
    numba_step(cfg, ls, weights, pre, post, t, False, u, draws, c)      # the loihi engine's kernels (one source)
    ls.y[:] = y_in
    if learn:                 # the spike kernel has nothing left to do: no spikes
        numba_step(cfg, ls, weights, np.zeros_like(pre), np.zeros_like(post), t, True, u, draws, c)
        ls.y[:] = y_in            # a 3F connection keeps the received y, not the epoch's history (connection.py:465)
        ls.epochs += 1
    ls.t = t


def step(learning, state: State, weights, pre_spikes, post_spikes, t, post_v=None, y_in=None) -> None:
    """One Lava time step t: the post neuron's traces, then the connection (weights change at epoch ends).
    ``learning`` is ignored (the state holds it). ``y_in`` ((3, n_post) int): traces another neuron model computed
    (engine ``loihi3f_us``) instead of the R-STDP neuron's y1 and the host-written third factor."""
    learn = t % state.cfg.t_epoch == 0
    if learn and not state.started:     # only this engine changes the weights: gather once
        state.w_csr[:] = weights[state.order]
        state.started = True
    if y_in is None:
        y_in = post_traces(state, post_spikes, t)
    learning_step_3f(state.cfg, state.ls, state.w_csr, pre_spikes, post_spikes, t, y_in)
    if learn:
        weights[state.order] = state.w_csr
