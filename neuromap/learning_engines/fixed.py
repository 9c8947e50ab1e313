"""Integer arithmetic shared by the seed-rule learning engines (neuromap extensions of the Loihi engine).

Contract layer (:mod:`neuromap.learning_engines`): the compiler quantizes with these widths and the
engines compute with them; imports only numpy.

Every quantity is an int64 fixed-point number ``value = q / 2**F`` with a fraction width ``F``
stated where it is used. One rounding mode everywhere: **round half up** (towards +inf),
``rshift_round(x, n) = (x + 2**(n-1)) >> n`` with an arithmetic shift. Nothing here is random.

Widths (module constants, also recorded by the compiler in each ``learning`` dict as wf, af, xf):

- ``WF = 16``: fraction bits of the fine weight ``w_fine = weight_mantissa * 2**16`` that the
  engines learn on (the core sees ``round(w_fine / 2**16)`` saturated to the weight field);
  with an 8-bit mantissa a fine weight needs 8 + 1 + 16 = 25 bits.
- ``KEEP_F = 16``: fraction bits of a per-step trace retention ``keep = round(2**16 exp(-dt/tau))``.
- ``AF = 16``: fraction bits of dimensionless rule coefficients (A+, alpha_r, k_pw, ...).
- ``XF = 12``: fraction bits of spike traces counting spikes (1.0 = 4096); traces are
  unsigned 16 bit (saturate at ``TRACE_MAX`` = 65535, i.e. 15.99 spikes).
- ``LUT_F = 8``: compiler-computed tables of a nonlinear function of an integer state are
  sampled every 2**-8 of that state's unit and read with linear interpolation
  (:func:`lut_interp`); beyond the last entry the last entry holds.
"""
from __future__ import annotations

import numpy as np

WF = 16
KEEP_F = 16
AF = 16
XF = 12
TRACE_BITS = 16
TRACE_MAX = (1 << TRACE_BITS) - 1
LUT_F = 8


def rshift_round(x, n: int):
    """``x / 2**n`` rounded half up (arithmetic shift); ``n = 0`` returns ``x``."""
    if n <= 0:
        return x << (-n) if n < 0 else x
    return (x + (1 << (n - 1))) >> n


def decay_trace(x: np.ndarray, keep: int) -> None:
    """In place: ``x <- rshift_round(x * keep, KEEP_F)`` (one step of exponential decay)."""
    x[:] = rshift_round(x * keep, KEEP_F)


def seg_sum(values: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Exact int64 sum of ``values`` per segment ``idx`` (0..n-1)."""
    out = np.zeros(n, np.int64)
    np.add.at(out, idx, values)
    return out


def lut_interp(table: np.ndarray, x: np.ndarray, frac_bits: int) -> np.ndarray:
    """Read ``table`` (int64, sampled at ``i * 2**-LUT_F`` of x's unit) at fixed-point ``x`` (``frac_bits``
    fraction bits, x >= 0): linear interpolation between neighbours, rounded half up; x past the end
    returns the last entry. Needs ``frac_bits >= LUT_F``."""
    sh = frac_bits - LUT_F
    i = x >> sh
    last = table.shape[0] - 1
    f = x - (i << sh)
    past = i >= last
    i = np.minimum(i, last - 1)
    lo, hi = table[i], table[i + 1]
    out = lo + rshift_round((hi - lo) * f, sh)
    return np.where(past, table[last], out)


def keep_factor(dt: float, tau: float) -> int:
    """``round(2**KEEP_F * exp(-dt/tau))``: a trace's per-step retention in KEEP_F fixed point."""
    return int(round((1 << KEEP_F) * np.exp(-dt / tau)))


class WeightCodec:
    """Fine weights <-> the core's weight mantissas for one projection.

    ``cfg``: the engine's schema (:class:`neuromap.learning_engines.schema.SeedRuleSchema`).
    ``sign`` (+1 excitatory / -1 inhibitory): the engines learn the magnitude ``sign * weight``.
    ``w_lo``/``w_hi``: the magnitude's clip range in mantissa units (from the rule's w_min/w_max
    and the weight field). The core's weight is ``sign * rshift_round(w_fine, WF)``.
    """

    def __init__(self, cfg):
        self.sign = cfg.sign
        self.lo = cfg.w_lo << WF
        self.hi = cfg.w_hi << WF

    def fine(self, weights: np.ndarray) -> np.ndarray:
        return (self.sign * weights.astype(np.int64)) << WF

    def store(self, w_fine: np.ndarray, weights: np.ndarray) -> None:
        """Clip ``w_fine`` (in place) to [lo, hi] and write the rounded mantissas into ``weights``."""
        np.clip(w_fine, self.lo, self.hi, out=w_fine)
        weights[:] = self.sign * rshift_round(w_fine, WF)


class PreDelay:
    """Delays the pre neurons' spikes by ``d`` steps (>= 0) to when they reach the synapses."""

    def __init__(self, d: int, n_pre: int):
        self.d = int(d)
        self.ring = np.zeros((max(self.d, 1), n_pre), bool)

    def push(self, pre_spikes: np.ndarray, t: int) -> np.ndarray:
        """Spikes arriving at step ``t`` given this step's emitted ``pre_spikes``."""
        if self.d == 0:
            return pre_spikes
        slot = t % self.d
        out = self.ring[slot].copy()
        self.ring[slot] = pre_spikes
        return out


class Synapses:
    """What every seed-rule engine keeps about its projection: the weight codec, the pre delay line,
    the synapses' pre/post indices and the fine weights (set from the stored weights at the first step)."""

    def __init__(self, cfg, n_pre: int, pre_idx: np.ndarray, post_idx: np.ndarray):
        self.codec = WeightCodec(cfg)
        self.delay = PreDelay(cfg.delay, n_pre)
        self.pre_idx = np.asarray(pre_idx, np.int64)
        self.post_idx = np.asarray(post_idx, np.int64)
        self.w_fine: np.ndarray | None = None

    def begin(self, weights: np.ndarray, pre_spikes: np.ndarray, t: int) -> np.ndarray:
        """Start step ``t``: returns bool per synapse, a pre spike reaches it now."""
        if self.w_fine is None:
            self.w_fine = self.codec.fine(weights)
        return self.delay.push(pre_spikes, t)[self.pre_idx]
