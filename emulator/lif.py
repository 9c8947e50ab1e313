"""Lava 0.10.0 ``PyLifModelBitAcc`` arithmetic, vectorized over neurons (numpy, int64 working precision).

Source: lava/proc/lif/models.py, ``AbstractPyLifModelFixed.subthr_dynamics`` and
``PyLifModelBitAcc.spiking_activation``. Lava stores u, v in int32 and the
synaptic input arrives as int32 (the Dense ``a_out`` port is int32), so every
int32 operation of Lava that may overflow is reproduced with :func:`wrap32`:

1. ``u' = sign(u*(4096-(du+1))) * (|u*(4096-(du+1))| >> 12)``  (int64, rounds toward 0)
2. ``a = wrap32(wrap32(A) << 6)``  (activation, MSB-aligned by 6 bits in int32)
3. ``d = wrap32(u' + a)``; ``u = d - 2**24 if d > 2**23 else d + 2**24 if d <= -2**23 else d``
   (Lava's single conditional 24-bit wrap: a value further out stays out of range)
4. ``v' = sign(v*(4096-dv)) * (|v*(4096-dv)| >> 12)``
5. ``v = clip(wrap32(v' + u + bias), -(2**23-1), 2**23-1)``, ``bias = bias_mant << bias_exp``
6. spike where ``v > vth << 6``; spiking neurons get ``v = 0`` (u is not reset).

Refractory period (neuromap extension; Lava ``LIFRefractory``'s semantics on the fixed-point
arithmetic above): a neuron that spikes at step t with period R skips step 4-6 (v keeps its
value, 0, and cannot spike) at steps t+1 .. t+R; u is updated as usual.
"""
from __future__ import annotations

import numpy as np

MAX_UV = 1 << 23          # 2 ** (24 - 1)
V_LIMIT = MAX_UV - 1      # v saturates at +-(2**23 - 1)


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 range (what an int32 store/add does)."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def decay(x: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``sign(x*factor) * (|x*factor| >> 12)``: multiply by factor/4096, rounding toward zero."""
    p = x * factor
    return np.sign(p) * (np.abs(p) >> 12)


def lif_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, decay_u: np.ndarray, decay_v: np.ndarray,
             bias: np.ndarray, vth: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
    """Advance ``u``, ``v`` (int64 arrays, updated in place) by one step with dendritic input ``a_in``
    (int64 sum, any range); ``held``: bool mask of refractory neurons (v not updated, no spike).
    Return the boolean spike vector."""
    d = wrap32(decay(u, decay_u) + wrap32(wrap32(a_in) << 6))
    u[:] = np.where(d > MAX_UV, d - 2 * MAX_UV, np.where(d <= -MAX_UV, d + 2 * MAX_UV, d))
    new_v = np.clip(wrap32(decay(v, decay_v) + u + bias), -V_LIMIT, V_LIMIT)
    v[:] = new_v if held is None else np.where(held, v, new_v)
    spikes = v > vth
    if held is not None:
        spikes &= ~held
    v[spikes] = 0
    return spikes
