"""What one emulation produced (:class:`RawRun`), whatever the core kind: every emulator of
:data:`emulator.EMULATORS` returns it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawRun:
    """Everything one emulation produced, in global indices.

    spikes: (k, 2) int64 rows (step, source id), sorted by step then source
    (source ids: neurons 0..N-1, then inputs N..N+I-1). probe: global neuron ids
    whose u/v are traced; u, v: (steps, len(probe)) int64 after each step (v after reset).
    core_spikes (C,), link_spikes (C+1, C): traffic counters (row C = host).
    final_u, final_v: (N,) int64 state of every neuron after the last step. Plastic images
    (``emulator.plastic``): weight_steps (steps after which weights were recorded) and weights
    (projection index -> (len(weight_steps), S_k) int16 stored weights, image synapse order).
    thread_chunks: the thread count of every chunk of a default-threads numba run (:mod:`emulator.threads`;
    empty when the caller fixed ``threads`` or for the other engines).
    """

    steps: int
    spikes: np.ndarray
    probe: np.ndarray
    u: np.ndarray
    v: np.ndarray
    core_spikes: np.ndarray
    link_spikes: np.ndarray
    final_u: np.ndarray | None = None
    final_v: np.ndarray | None = None
    weight_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    weights: dict = field(default_factory=dict)
    thread_chunks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
