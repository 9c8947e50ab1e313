"""The time loop in vectorized numpy: per step one LIF update over all neurons of all cores, then
event-driven delivery of the spiking sources' synapse rows into the delay ring buffer."""
from __future__ import annotations

import numpy as np

from emulator.lif import lif_step
from emulator.program import Program, concat_ranges
from emulator.state import ChunkOut, State


def run_chunk(p: Program, st: State, t0: int, n_steps: int, in_ptr: np.ndarray, in_ids: np.ndarray,
              probe: np.ndarray, out: ChunkOut) -> None:
    """Run steps ``t0 .. t0+n_steps-1``; input spikes of step ``t0+k`` are ``in_ids[in_ptr[k]:in_ptr[k+1]]``;
    spikes appended to ``out`` (:class:`emulator.state.ChunkOut`) from row ``out.n_spikes`` on."""
    N, D = p.n_neurons, p.ring_len
    n_spk = out.n_spikes
    for k in range(n_steps):
        t = t0 + k
        row = t % D
        a_in = st.ring[row].astype(np.int64)
        st.ring[row] = 0
        held = st.ref_until >= t
        fired = np.flatnonzero(lif_step(st.u, st.v, a_in, p.decay_u, p.decay_v, p.bias, p.vth, p.arith, held))
        st.ref_until[fired] = t + p.ref_period[fired]
        out.trace_u[k] = st.u[probe]
        out.trace_v[k] = st.v[probe]
        src = np.concatenate([fired, N + in_ids[in_ptr[k]:in_ptr[k + 1]]])
        out.spikes[n_spk:n_spk + src.size, 0] = t
        out.spikes[n_spk:n_spk + src.size, 1] = src
        n_spk += src.size
        np.add.at(st.core_spikes, p.neuron_core[fired], 1)
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
