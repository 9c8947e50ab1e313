"""Input spikes of a range of steps: explicit spike times replayed as given, Poisson inputs drawn from
``numpy.random.default_rng(seed)`` as the one documented stream of :mod:`neuromap.poisson_stream`
(docs/image-format.md, *Inputs*): geometric gaps between spikes for inputs of ``p_j <= 1`` expected events
per step, Poisson counts (several events per step, *multiplicity*) for ``p_j > 1``.

Poisson input ``j`` is the ``j``-th Poisson input in input-id order; an input with ``c`` events in a step
appears ``c`` times in that step's ids, and every consumer delivers each occurrence (a weight times the
count). For images whose ``p_j`` are all ``<= 1`` the stream is the geometric-gap stream of earlier
versions, draw for draw.
"""
from __future__ import annotations

import numpy as np

from emulator.program import Program
from neuromap.poisson_stream import NEVER, PoissonStream  # noqa: F401  (NEVER: importable from here as before)


class InputSchedule:
    """Yields, chunk by chunk, the input spikes as a per-step CSR (``ptr`` over steps, input ids)."""

    def __init__(self, p: Program):
        self.p = p
        self.poisson = PoissonStream(p.poisson_p, p.seed)
        self.next_step = 0

    def chunk(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of steps ``t0 .. t0+n_steps-1`` (ids sorted within a step); chunks must be
        requested in order."""
        if t0 != self.next_step:
            raise ValueError("input chunks must be requested in step order")
        self.next_step = t0 + n_steps
        p = self.p
        lo, hi = np.searchsorted(p.spike_step, [t0, t0 + n_steps])
        pptr, pj = self.poisson.chunk(t0, n_steps)
        if hi == lo:                                  # Poisson only: already in (step, id) order
            return pptr, np.ascontiguousarray(p.poisson_ids[pj], dtype=np.int64)
        step = np.concatenate([p.spike_step[lo:hi] - t0, np.repeat(np.arange(n_steps, dtype=np.int64), np.diff(pptr))])
        idx = np.concatenate([p.spike_index[lo:hi], p.poisson_ids[pj]])
        order = np.lexsort((idx, step))
        ptr = np.zeros(n_steps + 1, np.int64)
        np.cumsum(np.bincount(step, minlength=n_steps), out=ptr[1:])
        return ptr, np.ascontiguousarray(idx[order], dtype=np.int64)
