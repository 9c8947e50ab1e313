"""Lava 0.10.0 ``PyLifModelBitAcc`` arithmetic with the image's widths (:class:`neuromap.image.LifArithmetic`):
the equations the emulator's one LIF kernel computes (:func:`emulator.engine_numba.lif_update`, int64 working
precision; both engines and the plastic loops run it) and the ``arith`` vector it reads.

Source: lava/proc/lif/models.py, ``AbstractPyLifModelFixed.subthr_dynamics`` and
``PyLifModelBitAcc.spiking_activation``; widths from the image (Loihi: decay_bits D = 12,
activation_shift A = threshold_shift = 6, current_bits = voltage_bits = 24; docs/targets.md,
*Neuron arithmetic*). Lava stores u, v in int32 and the synaptic input arrives as int32 (the
Dense ``a_out`` port is int32), so every int32 operation of Lava that may overflow is
reproduced (``wrap32``: two's-complement wrap to int32):

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
