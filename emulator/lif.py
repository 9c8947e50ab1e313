"""Lava 0.10.0 ``PyLifModelBitAcc`` arithmetic with the image's widths (:class:`neuromap.image.LifArithmetic`),
vectorized over neurons (numpy, int64 working precision).

Source: lava/proc/lif/models.py, ``AbstractPyLifModelFixed.subthr_dynamics`` and
``PyLifModelBitAcc.spiking_activation``; widths from the image (Loihi: decay_bits D = 12,
activation_shift A = threshold_shift = 6, current_bits = voltage_bits = 24; docs/targets.md,
*Neuron arithmetic*). Lava stores u, v in int32 and the synaptic input arrives as int32 (the
Dense ``a_out`` port is int32), so every int32 operation of Lava that may overflow is
reproduced with :func:`wrap32`:

1. ``u' = sign(u*(2**D-(du+1))) * (|u*(2**D-(du+1))| >> D)``  (int64, rounds toward 0)
2. ``a = wrap32(wrap32(A_in) << A)``  (activation, MSB-aligned by A bits in int32)
3. ``d = wrap32(u' + a)``; with ``H = 2**(current_bits-1)``: ``u = d - 2H if d > H else d + 2H if d <= -H else d``
   (Lava's single conditional wrap: a value further out stays out of range)
4. ``v' = sign(v*(2**D-dv)) * (|v*(2**D-dv)| >> D)``
5. ``v = clip(wrap32(v' + u + bias), -L, L)``, ``L = 2**(voltage_bits-1) - 1``, ``bias = bias_mant << bias_exp``
6. spike where ``v > vth << threshold_shift``; spiking neurons get ``v = 0`` (u is not reset).

Refractory period (neuromap extension; Lava ``LIFRefractory``'s semantics on the fixed-point
arithmetic above): a neuron that spikes at step t with period R skips step 4-6 (v keeps its
value, 0, and cannot spike) at steps t+1 .. t+R; u is updated as usual.
"""
from __future__ import annotations

import numpy as np

from neuromap.image import LOIHI_ARITHMETIC, LifArithmetic

#: ``arith`` vector entries (what the engines read): decay shift D, activation shift A, H, L
DECAY_SHIFT, ACT_SHIFT, U_HALF, V_LIMIT_AT = range(4)


def arith_vector(a: LifArithmetic) -> np.ndarray:
    """The int64 vector ``[decay_bits, activation_shift, 2**(current_bits-1), 2**(voltage_bits-1) - 1]``
    both engines' LIF updates take (the threshold shift and decay unity are folded into the per-neuron
    ``vth`` and decay factors by :func:`emulator.program.prepare`)."""
    return np.array([a.decay_bits, a.activation_shift, a.u_half, a.v_limit], np.int64)


#: Loihi's vector (images without an ``arithmetic`` field)
LOIHI = arith_vector(LOIHI_ARITHMETIC)


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 range (what an int32 store/add does)."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def decay(x: np.ndarray, factor: np.ndarray, shift: int = 12) -> np.ndarray:
    """``sign(x*factor) * (|x*factor| >> shift)``: multiply by factor / 2**shift, rounding toward zero."""
    p = x * factor
    return np.sign(p) * (np.abs(p) >> shift)


def lif_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, decay_u: np.ndarray, decay_v: np.ndarray,
             bias: np.ndarray, vth: np.ndarray, arith: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
    """Advance ``u``, ``v`` (int64 arrays, updated in place) by one step with dendritic input ``a_in``
    (int64 sum, any range); ``held``: bool mask of refractory neurons (v not updated, no spike);
    ``arith``: :func:`arith_vector` of the image's arithmetic. Return the boolean spike vector."""
    shift, act, half, lim = (int(x) for x in arith)
    d = wrap32(decay(u, decay_u, shift) + wrap32(wrap32(a_in) << act))
    u[:] = np.where(d > half, d - 2 * half, np.where(d <= -half, d + 2 * half, d))
    new_v = np.clip(wrap32(decay(v, decay_v, shift) + u + bias), -lim, lim)
    v[:] = new_v if held is None else np.where(held, v, new_v)
    spikes = v > vth
    if held is not None:
        spikes &= ~held
    v[spikes] = 0
    return spikes
