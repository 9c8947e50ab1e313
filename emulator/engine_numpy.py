"""The time loop with numpy delivery: per step the LIF update of every neuron (the numba engine's kernel,
:func:`emulator.engine_numba.lif_step`: one implementation of the neuron equations), then the spiking sources'
route entries walked in vectorized numpy (the image-order synapses, dendrite slots summed per step) into the
delay ring buffer: delivery written apart from the numba engine's delivery runs."""
from __future__ import annotations

import numpy as np

from emulator.compartments import joined_lif
from emulator.engine_numba import lif_step
from emulator.program import Program, concat_ranges
from emulator.state import ChunkOut, State


def run_chunk(p: Program, st: State, t0: int, n_steps: int, in_ptr: np.ndarray, in_ids: np.ndarray,
              probe: np.ndarray, out: ChunkOut) -> None:
    """Run steps ``t0 .. t0+n_steps-1``; input spikes of step ``t0+k`` are ``in_ids[in_ptr[k]:in_ptr[k+1]]``;
    spikes appended to ``out`` (:class:`emulator.state.ChunkOut`) from row ``out.n_spikes`` on. Programs with
    dendrite compartments (``p.join_parent``) update their neurons with
    :func:`emulator.compartments.joined_lif_step`."""
    if p.join_parent is not None:
        lif = joined_lif(p.join_parent)
    else:
        lif = lif_step
    N, D = p.n_neurons, p.ring_len
    n_spk = out.n_spikes
    ring = st.ring.reshape(-1)
    buf = np.empty(N, np.int64)
    for k in range(n_steps):
        t = t0 + k
        nf = lif(t, N, (t % D) * N, ring, st.u, st.v, p.decay_u, p.decay_v, p.bias, p.vth, p.arith,
                      p.ref_period, st.ref_until, p.neuron_core, st.core_spikes, buf)   # core_spikes counted
        fired = buf[:nf].copy()
        out.trace_u[k] = st.u[probe]
        out.trace_v[k] = st.v[probe]
        src = np.concatenate([fired, N + in_ids[in_ptr[k]:in_ptr[k + 1]]])
        out.spikes[n_spk:n_spk + src.size, 0] = t
        out.spikes[n_spk:n_spk + src.size, 1] = src
        n_spk += src.size
        routes, owner = concat_ranges(p.src_ptr[src], p.src_ptr[src + 1])
        np.add.at(st.link_spikes, (p.src_core[src[owner]], p.route_core[routes]), 1)
        ax = p.route_axon[routes]
        syn, _ = concat_ranges(p.syn_ptr[ax], p.syn_ptr[ax + 1])
        # the delay as int64 first: ``t + uint8 array`` keeps uint8 while t <= 255 (numpy 1.x value-based
        # casting) and wraps t + delay >= 256 to t + delay - 256, the wrong ring row
        dest = (t + p.syn_delay[syn].astype(np.int64)) % D
        if p.syn_slot.size == 0:             # no projection with weight_exp < 0
            np.add.at(st.ring, (dest, p.syn_post[syn]), p.syn_add[syn].astype(np.int64))
            continue
        slot = p.syn_slot[syn]
        direct = slot < 0
        np.add.at(st.ring, (dest[direct], p.syn_post[syn[direct]]), p.syn_add[syn[direct]].astype(np.int64))
        slotted = slot >= 0
        if slotted.any():
            acc = np.zeros(p.slot_post.size, np.int64)  # per (projection, post, delay) sum of this step
            np.add.at(acc, slot[slotted], p.syn_add[syn[slotted]].astype(np.int64))
            hit = np.flatnonzero(acc)
            np.add.at(st.ring, ((t + p.slot_delay[hit]) % D, p.slot_post[hit]), acc[hit] >> p.slot_shift[hit])
    out.n_spikes = n_spk
