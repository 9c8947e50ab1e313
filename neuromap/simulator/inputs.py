"""Input events of the float reference, chunk by chunk: explicit ``spike_source`` times and the Poisson
populations' documented stream of a kind (:mod:`neuromap.poisson_stream`; per input by default), merged into
(step, neuron) pairs sorted by step, then neuron. A Poisson input with several events in a step
(``rate * dt / 1000 > 1``) appears once per event; each occurrence is delivered (the weight times the count).

Input spikes are not kept during a run (at 10 k inputs of 2 events per step that would be 16 bytes per
event, more than the network): :meth:`InputEvents.replay` draws them again for the result, on request.
"""
from __future__ import annotations

import numpy as np

from neuromap.poisson_stream import DEFAULT_KIND, PoissonStream

#: input events produced per chunk at most (bounds the chunk's event arrays: 16 bytes per event)
EVENT_BUDGET = 1 << 21


class InputEvents:
    """Every input population's events of consecutive step windows (global neuron indices)."""

    def __init__(self, lay, seed: int, kind: str = DEFAULT_KIND):
        self.sources = [(p.start, p.source) for p in lay.pops if p.source is not None]
        self.poisson_index = lay.poisson_index
        self.p = lay.poisson_p
        self.seed, self.kind = seed, kind
        self.stream = PoissonStream(self.p, seed, kind=kind) if self.p.size else None
        self.next_step = 0

    def per_step(self) -> float:
        """Expected Poisson events per step (the explicit times are few)."""
        return float(self.p.sum())

    def chunk_steps(self, limit: int) -> int:
        """Steps per chunk such that a chunk's events stay within :data:`EVENT_BUDGET` (at most ``limit``)."""
        return int(max(1, min(limit, EVENT_BUDGET // max(1.0, self.per_step()))))

    def events(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """(step int64, neuron int64) of every input event in steps ``[t0, t1)``, sorted by step then neuron;
        windows must be consecutive."""
        if t0 != self.next_step:
            raise ValueError("input windows must be requested in step order")
        self.next_step = t1
        ts, ix = [], []
        if self.stream is not None:
            ptr, j = self.stream.chunk(t0, t1 - t0)
            ts.append(np.repeat(np.arange(t0, t1, dtype=np.int64), np.diff(ptr)))
            ix.append(self.poisson_index[j])
        for start, src in self.sources:
            s, i = src.events(t0, t1)
            ts.append(s)
            ix.append(i + start)
        if not ts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(ts) == 1:                                    # already in (step, neuron) order
            return ts[0], ix[0]
        t, i = np.concatenate(ts), np.concatenate(ix)
        order = np.lexsort((i, t))                          # stable: a repeated event stays repeated
        return t[order], i[order]

    def replay(self, lay, steps: int, start: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(step, population-local index) of the events of neurons ``[start, start + size)`` in steps
        ``0 .. steps-1``, drawn again from the same seed (sorted by step, then index)."""
        again = InputEvents(lay, self.seed, self.kind)
        n = again.chunk_steps(steps)
        ts, ix = [], []
        for t0 in range(0, steps, n):
            t, i = again.events(t0, min(t0 + n, steps))
            m = (i >= start) & (i < start + size)
            ts.append(t[m])
            ix.append(i[m] - start)
        if not ts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(ts), np.concatenate(ix)
