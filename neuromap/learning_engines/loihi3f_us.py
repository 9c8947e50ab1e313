"""Learning engine ``loihi3f_us``: Urbanczik-Senn on Lava's three-factor learning engine, the third factor the
dendritic prediction error computed by the post neuron from its two compartments (docs/voltage-rules.md,
*On chip: Urbanczik-Senn with the dendritic error as third factor*).

The connection is exactly ``loihi3f``'s (Lava 0.10 ``Loihi3FLearningRule`` arithmetic, :func:`loihi3f.step`, y1 =
0); only y2's source differs. The post population is a dendrite population (``neurons.join_parent``); every step
its neuron j computes from the v of its dendrite ``v_d`` and of its soma ``v_s`` (after the step's update; integer
arithmetic, rounding stated)::

    i_u  = clip((v_s + 2^23) >> lut_shift, 0, L - 1)                       soma potential U -> table index
    v_p  = (v_d * pred_mult) >> pred_shift                                  V_w* in soma units (floor)
    i_p  = clip((v_p + 2^23) >> lut_shift, 0, L - 1)
    e    = (phi_lut[i_u] - phi_lut[i_p]) * h_lut[i_p]                       (phi(U) - phi(V_w*)) h(V_w*), int64
    q    = clip((e * err_mult + r) >> err_shift, -16, 15)                  r uniform in [0, 2^err_shift): E[q] exact
    y2   = 8 q                                                              multiples of 8: Lava's >> 3 is exact

``r`` comes from ``numpy.random.default_rng([seed, 0x7533])`` (``integers(0, 2**err_shift, n_post)`` once per
step): the dithered rounding a Loihi 2 neuron program does with its random generator. ``phi_lut``/``h_lut``
(``learning_arrays``) hold ``round(2^15 phi/phi_max)`` and ``round(2^12 h/beta)`` at the centre of every index's
voltage interval. The rule (``dw = m 2^-7 u0 x1 y2``, x1 the dendritic PSP trace) is the compiler's
(:mod:`neuromap.compiler.quantize_compartments`).

Image dict: ``{"engine": "loihi3f_us", **LearningConfig.to_dict(), "lut_shift", "pred_mult", "pred_shift",
"err_mult", "err_shift", "seed"}``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neuromap.errors import ImageError
from neuromap.learning_engines import loihi, loihi3f
from neuromap.learning_rules import LearningConfig

ENGINE = "loihi3f_us"
#: step reads the post neurons' v ...
READS_V = True
#: ... and their somas' v: the emulator passes ``post_v`` = [v of the dendrites, v of their join parents]
READS_SOMA_V = True
ARRAYS = ("phi_lut", "h_lut")
#: half range of the 24-bit v register the table index is taken over
V_HALF = 1 << 23
Q_MIN, Q_MAX, Q_SCALE = -16, 15, 8
_INTS = {"lut_shift": (0, 24), "pred_mult": (1, (1 << 16) - 1), "pred_shift": (0, 31),
         "err_mult": (1, (1 << 16) - 1), "err_shift": (0, 62), "seed": (0, 2 ** 31 - 1)}


@dataclass(frozen=True)
class Schema:
    """The connection's :class:`LearningConfig` (a three-factor rule) and the neuron's error computation."""

    ENGINE: ClassVar[str] = ENGINE
    ARRAYS: ClassVar[dict[str, str]] = {
        "phi_lut": "int[L]: round(2^15 phi(U)/phi_max) per table index (L = 2^(24 - lut_shift))",
        "h_lut": "int[L]: round(2^12 h(U)/beta) per table index"}
    config: LearningConfig
    lut_shift: int
    pred_mult: int
    pred_shift: int
    err_mult: int
    err_shift: int
    seed: int

    @property
    def lut_size(self) -> int:
        return 1 << (24 - self.lut_shift)

    @classmethod
    def from_dict(cls, d, where: str = "image learning", fill_defaults: bool = False) -> "Schema":
        if isinstance(d, cls):
            return d
        # the connection is loihi3f's (a non-dict is refused there); then the neuron's integers
        as_3f = {**{k: v for k, v in d.items() if k not in _INTS}, "engine": loihi3f.ENGINE, "post_impulse": 0.0,
                 "post_tau": 1.0} if isinstance(d, dict) else d
        cfg = loihi3f.Schema.from_dict(as_3f, where).config
        bad = next((k for k, (lo, hi) in _INTS.items() if isinstance(d.get(k), bool)
                    or not isinstance(d.get(k), int) or not lo <= d[k] <= hi), None)
        if bad is not None:
            lo, hi = _INTS[bad]
            raise ImageError(f"{where}: loihi3f_us learning {bad} {d.get(bad)!r} must be an integer in [{lo}, {hi}] "
                             "(recompile)")
        return cls(cfg, **{k: d[k] for k in _INTS})

    def to_dict(self) -> dict:
        return {"engine": ENGINE, **self.config.to_dict(), **{k: getattr(self, k) for k in _INTS}}

    def check_projection(self, sign_mode: str, num_weight_bits: int, where: str) -> None:
        loihi.Schema(self.config).check_projection(sign_mode, num_weight_bits, where)

    def check_arrays(self, arrays: dict, n_syn: int, where: str, n_post: int | None = None) -> None:
        if set(arrays) != set(ARRAYS):
            raise ImageError(f"{where}: loihi3f_us learning needs exactly the arrays {', '.join(ARRAYS)} (recompile)")
        for k, hi in (("phi_lut", 1 << 15), ("h_lut", 1 << 12)):
            a = np.asarray(arrays[k])
            if a.shape != (self.lut_size,) or a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() > hi)):
                raise ImageError(f"{where}: loihi3f_us {k} must be {self.lut_size} integers in [0, {hi}] (recompile)")


@dataclass
class State:
    """``loihi3f``'s state of the connection, the tables and the dither generator."""

    inner: loihi3f.State
    sch: Schema
    phi: np.ndarray
    h: np.ndarray
    rng: np.random.Generator
    y2: np.ndarray


def make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> State:
    sch = Schema.from_dict(learning, "loihi3f_us learning")
    sch.check_arrays(arrays, len(pre_idx), "loihi3f_us learning")
    inner = loihi3f.make_state(loihi3f.Schema(sch.config, 0.0, 1.0), {}, n_pre, n_post, pre_idx, post_idx)
    return State(inner, sch, np.asarray(arrays["phi_lut"], np.int64), np.asarray(arrays["h_lut"], np.int64),
                 np.random.default_rng([sch.seed, 0x7533]), np.zeros(n_post, np.int64))


def third_factor(sch: Schema, phi: np.ndarray, h: np.ndarray, v_d: np.ndarray, v_s: np.ndarray,
                 r: np.ndarray) -> np.ndarray:
    """y2 of every post neuron (module docstring) from int64 ``v_d``, ``v_s`` and the dither ``r``."""
    top = sch.lut_size - 1
    iu = np.clip((v_s + V_HALF) >> sch.lut_shift, 0, top)
    vp = (v_d * sch.pred_mult) >> sch.pred_shift
    ip = np.clip((vp + V_HALF) >> sch.lut_shift, 0, top)
    e = (phi[iu] - phi[ip]) * h[ip]
    return np.clip((e * sch.err_mult + r) >> sch.err_shift, Q_MIN, Q_MAX) * Q_SCALE


def step(learning, state: State, weights, pre_spikes, post_spikes, t, post_v=None) -> None:
    """One Lava time step t: the post neurons' y2 from their compartments, then ``loihi3f``'s connection."""
    n = state.y2.size
    v = np.asarray(post_v, np.int64)
    r = state.rng.integers(0, 1 << state.sch.err_shift, n, dtype=np.int64)
    state.y2[:] = third_factor(state.sch, state.phi, state.h, v[:n], v[n:2 * n], r)
    loihi3f.step(None, state.inner, weights, pre_spikes, post_spikes, t,
                 y_in=np.stack([np.zeros(n, np.int64), state.y2, np.zeros(n, np.int64)]))


def tables(phi_max: float, k: float, beta: float, theta_rel: float, s: float, lut_shift: int) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """``phi_lut``, ``h_lut`` for a soma of scale ``s`` (v units per mV) whose phi midpoint lies ``theta_rel`` mV
    above v = 0 (T3, T6 of two_compartment): each index's value at the centre of its v interval."""
    n = 1 << (24 - lut_shift)
    v = (np.arange(n) << lut_shift) - V_HALF + (1 << lut_shift) / 2.0
    u = v / s
    rate = 1.0 / (1.0 + k * np.exp(np.clip(beta * (theta_rel - u), -700, 700)))     # phi / phi_max
    return np.rint(rate * 2 ** 15).astype(np.int64), np.rint((1.0 - rate) * 2 ** 12).astype(np.int64)


def dither_fraction(x: float) -> tuple[int, int]:
    """``(mult, shift)`` with ``mult / 2^shift`` = ``x`` (> 0) to 16 significant bits."""
    if not x > 0 or not math.isfinite(x):
        raise ValueError(f"dither factor {x!r} must be a positive number")
    sh = 15 - math.floor(math.log2(x))
    m = int(round(x * 2 ** sh))
    return (m >> 1, sh - 1) if m >= 1 << 16 else (m, sh)
