"""Input spikes of a range of steps: explicit spike times replayed as given, Poisson inputs drawn from
``numpy.random.default_rng(seed)`` with one ``rng.random(P)`` per step in step order (docs/image-format.md)."""
from __future__ import annotations

import numpy as np

from emulator.program import Program


class InputSchedule:
    """Yields, chunk by chunk, the input spikes as a per-step CSR (``ptr`` over steps, input ids)."""

    def __init__(self, p: Program):
        self.p = p
        self.rng = np.random.default_rng(p.seed)
        self.next_step = 0

    def chunk(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of steps ``t0 .. t0+n_steps-1``; chunks must be requested in order."""
        if t0 != self.next_step:
            raise ValueError("input chunks must be requested in step order")
        self.next_step = t0 + n_steps
        p = self.p
        lo, hi = np.searchsorted(p.spike_step, [t0, t0 + n_steps])
        steps = [p.spike_step[lo:hi] - t0]
        ids = [p.spike_index[lo:hi]]
        if p.poisson_ids.size:
            draw = self.rng.random((n_steps, p.poisson_ids.size))
            k, j = np.nonzero(draw < p.poisson_p)
            steps.append(k.astype(np.int64))
            ids.append(p.poisson_ids[j])
        step = np.concatenate(steps)
        idx = np.concatenate(ids)
        order = np.lexsort((idx, step))
        ptr = np.zeros(n_steps + 1, np.int64)
        np.cumsum(np.bincount(step, minlength=n_steps), out=ptr[1:])
        return ptr, np.ascontiguousarray(idx[order], dtype=np.int64)
