"""Integer arithmetic shared by the seed-rule learning engines (neuromap extensions of the Loihi engine).

Contract layer (:mod:`neuromap.learning_engines`): the compiler quantizes with these widths and the
engines' numba kernels compute with them (:func:`rshift_round`, :func:`lut_interp`); imports numpy and numba.

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

import numba
import numpy as np

WF = 16
KEEP_F = 16
AF = 16
XF = 12
TRACE_BITS = 16
TRACE_MAX = (1 << TRACE_BITS) - 1
LUT_F = 8


@numba.njit(inline="always")
def rshift_round(x, n):
    """``x / 2**n`` rounded half up (arithmetic shift, ``n >= 0``; ``n = 0`` returns ``x``). Scalar, for the
    engines' kernels (callable from Python on ints too)."""
    if n <= 0:
        return x
    return (x + (np.int64(1) << (n - 1))) >> n


def seg_sum(values: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Exact int64 sum of ``values`` per segment ``idx`` (0..n-1) (set-up, not a step)."""
    out = np.zeros(n, np.int64)
    np.add.at(out, idx, values)
    return out


@numba.njit(inline="always")
def lut_interp(table, base, size, x, frac_bits):
    """Read ``table[base:base+size]`` (int64, sampled at ``i * 2**-LUT_F`` of x's unit) at fixed-point ``x``
    (``frac_bits`` fraction bits, x >= 0): linear interpolation between neighbours, rounded half up; x at or
    past the last entry returns the last entry. Needs ``frac_bits > LUT_F``. Scalar (kernels)."""
    sh = frac_bits - LUT_F
    i = x >> sh
    last = size - 1
    if i >= last:
        return table[base + last]
    lo = table[base + i]
    return lo + rshift_round((table[base + i + 1] - lo) * (x - (i << sh)), sh)


def keep_factor(dt: float, tau: float) -> int:
    """``round(2**KEEP_F * exp(-dt/tau))``: a trace's per-step retention in KEEP_F fixed point."""
    return int(round((1 << KEEP_F) * np.exp(-dt / tau)))


class WeightCodec:
    """Fine weights <-> the core's weight mantissas for one projection (set-up; the kernels clip and store with
    :func:`neuromap.learning_engines.packing.clip_store`).

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


class PreDelay:
    """The ring of a projection's pre spikes on their way (``d`` rows of ``n_pre``; the kernels' ``arrive``
    reads and writes it): a spike emitted at step t reaches the synapses at t + d."""

    def __init__(self, d: int, n_pre: int):
        self.d = int(d)
        self.ring = np.zeros((max(self.d, 1), n_pre), bool)


class Synapses:
    """What every seed-rule engine keeps about its projection: the weight codec, the pre delay line,
    the synapses' pre/post indices and the fine weights (set from the stored weights when the kernel's
    group is first packed)."""

    def __init__(self, cfg, n_pre: int, pre_idx: np.ndarray, post_idx: np.ndarray):
        self.codec = WeightCodec(cfg)
        self.delay = PreDelay(cfg.delay, n_pre)
        self.pre_idx = np.asarray(pre_idx, np.int64)
        self.post_idx = np.asarray(post_idx, np.int64)
        self.w_fine: np.ndarray | None = None
