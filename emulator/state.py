"""Mutable emulator state (carried across chunks of steps) and the per-chunk output buffers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emulator.program import Program, _narrow


@dataclass
class State:
    """u, v (Lava's int32 values: int32 arrays, or int64 where an initial value does not fit), the refractory
    bookkeeping, the dendritic delay ring
    buffer ``ring[t % D, neuron]`` (int32: Lava's ``a_out``/``a_in`` ports are int32, and int32 addition
    wraps modulo 2**32, so summing in int32 gives exactly the wrapped int64 sum; half the cache
    footprint of int64), the slot accumulator, and the traffic counters."""

    u: np.ndarray
    v: np.ndarray
    ref_until: np.ndarray     # (N,) last step (0-based) of each neuron's refractory period; -1 initially
    ring: np.ndarray          # (D, N) int32 (wrapping sums)
    slot_acc: np.ndarray      # (K,) int64, zero between steps
    slot_mark: np.ndarray     # (K,) uint8, zero between steps: remainders noted this step (delivery runs: 0, 1, 2+)
    core_spikes: np.ndarray   # (C,) spikes emitted by the neurons of each core
    link_spikes: np.ndarray   # (C+1, C) spike messages source core -> destination core; row C = host inputs
    src_spikes: np.ndarray    # (N+I,) spikes per source not yet counted into link_spikes (delivery runs:
    #                           emulator.engine_numba.fold_link_spikes adds them once per run, route table x count)
    #: the numba engine's work arrays by name (spike lists, per-thread ring copies), kept from chunk to chunk: a
    #: new array per chunk is fresh memory, whose first writes (page faults) cost more than the chunk's own work
    #: on short chunks of large networks (:func:`emulator.engine_numba.scratch`)
    scratch: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def initial(cls, p: Program, link_spikes: bool = True) -> "State":
        """The state before step 0; ``link_spikes=False``: a (0, 0) link table (for runs that count no links:
        the full table is (C+1) x C int64)."""
        return cls(u=_narrow(p.u_init).copy(), v=_narrow(p.v_init).copy(), ref_until=np.full(p.n_neurons, -1, np.int64),
                   ring=np.zeros((p.ring_len, p.n_neurons), np.int32),
                   slot_acc=np.zeros(p.slot_post.size, np.int64),
                   slot_mark=np.zeros(p.slot_post.size, np.uint8),
                   core_spikes=np.zeros(p.n_cores, np.int64),
                   link_spikes=np.zeros((p.n_cores + 1, p.n_cores) if link_spikes else (0, 0), np.int64),
                   src_spikes=np.zeros(p.n_neurons + p.n_inputs, np.int64))


@dataclass
class ChunkOut:
    """Outputs of one chunk of steps. ``spikes``: (capacity, 2) int64 rows (step, source id); an engine
    appends the chunk's spikes from row ``n_spikes`` on and advances ``n_spikes`` (the caller ensures
    ``capacity - n_spikes >= steps * (neurons + inputs)``). ``trace_u``/``trace_v``: (n_steps, n_probe)
    int64, row k = the probed neurons after step ``t0 + k``."""

    spikes: np.ndarray
    trace_u: np.ndarray
    trace_v: np.ndarray
    n_spikes: int = 0

    @property
    def spk_step(self) -> np.ndarray:
        return self.spikes[:, 0]

    @property
    def spk_src(self) -> np.ndarray:
        return self.spikes[:, 1]

    @classmethod
    def empty(cls, n_steps: int, capacity: int, n_probe: int) -> "ChunkOut":
        return cls(np.empty((capacity, 2), np.int64), np.zeros((n_steps, n_probe), np.int64),
                   np.zeros((n_steps, n_probe), np.int64))

