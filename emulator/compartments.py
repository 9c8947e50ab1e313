"""Dendrite compartments joined into their soma (``neurons.join_parent``; docs/image-format.md, *Compartments*).

A neuromap extension of ``loihi_lif`` cores in the style of Loihi's multi-compartment neurons: a dendrite
compartment has its own u, v, du, dv, bias and synaptic input, never spikes, and its v of the step is added
(join ADD) to the v update of its parent (the root compartment named by ``join_parent``). Per step t, with the
arithmetic of :mod:`emulator.lif` (``decay``, ``wrap32``, the u wrap into ``current_bits``, the v clip at ``L``):

1. every compartment: ``u = wrap_u(wrap32(decay(u, U - du - 1) + wrap32(wrap32(a_in) << A)))``;
2. every dendrite d (``join_parent[d] = p >= 0``): ``v_d = clip(wrap32(decay(v_d, U - dv) + u_d + bias_d), -L, L)``
   (no threshold test, no reset, no refractory period);
3. every root compartment n: ``v_n = clip(wrap32(decay(v_n, U - dv) + u_n + J_n + bias_n), -L, L)`` with
   ``J_n`` the v (after step 2) of its dendrite, 0 without one; then the threshold test, reset and refractory
   period of a plain ``loihi_lif`` neuron.

:func:`emulator.program.prepare` gives dendrites the threshold ``L`` (``v > L`` never holds), so the shared
threshold test never fires them. A compartment without a dendrite computes exactly
:func:`emulator.engine_numba.lif_update`. Both emulator engine names run joined images on the numpy delivery
loop (:mod:`emulator.engine_numpy`) with the compiled update :func:`joined_lif_step` (the threaded, fused
plastic and sharded paths refuse or bypass them).
"""
from __future__ import annotations

import numba
import numpy as np

from emulator.engine_numba import _decay_any, _wrap32, fire, update_u


@numba.njit(cache=True, nogil=True)
def joined_lif_step(t, N, base, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                    neuron_core, core_spikes, fired, join_parent):
    """Step ``t`` of every compartment (module docstring, steps 1-3); same contract as
    :func:`emulator.engine_numba.lif_step` plus ``join_parent`` (int64[N], -1 for root compartments)."""
    shift = arith[0]
    lim = arith[3]
    update_u(N, ring[base:base + N], u, decay_u, shift, arith[1], arith[2])
    join = np.zeros(N, np.int64)
    for n in range(N):
        p = join_parent[n]
        if p >= 0:
            v[n] = min(max(_wrap32(_decay_any(v[n], decay_v[n], shift) + u[n] + bias[n]), -lim), lim)
            join[p] = v[n]
    for n in range(N):
        if join_parent[n] < 0 and ref_until[n] < t:
            v[n] = min(max(_wrap32(_decay_any(v[n], decay_v[n], shift) + u[n] + join[n] + bias[n]), -lim), lim)
    return fire(t, N, v, vth, ref_period, ref_until, neuron_core, core_spikes, fired)   # dendrites: vth = L


def joined_lif(join_parent: np.ndarray):
    """:func:`joined_lif_step` with ``join_parent`` bound: a drop-in for ``lif_step`` in the numpy engine's loop."""
    jp = np.ascontiguousarray(join_parent, np.int64)

    def step(t, N, base, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until, neuron_core,
             core_spikes, fired):
        return joined_lif_step(t, N, base, ring, u, v, decay_u, decay_v, bias, vth, arith, ref_period, ref_until,
                               neuron_core, core_spikes, fired, jp)
    return step
