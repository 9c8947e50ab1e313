"""Input spikes of a range of steps: explicit spike times replayed as given, Poisson inputs drawn as the
documented stream of the program's kind (:mod:`neuromap.poisson_stream`, docs/image-format.md, *Inputs*:
``per_input_v2``, a counter-based stream per input, or ``sequential``, one ``numpy.random.default_rng(seed)``
over all inputs): geometric gaps between spikes for inputs of ``p_j <= 1`` expected events per step, Poisson
counts (several events per step, *multiplicity*) for ``p_j > 1``.

Poisson input ``j`` is the ``j``-th Poisson input in input-id order; an input with ``c`` events in a step
appears ``c`` times in that step's ids, and every consumer delivers each occurrence (a weight times the
count). For images whose ``p_j`` are all ``<= 1`` the sequential stream is the geometric-gap stream of earlier
versions, draw for draw. A schedule may hold a subset of the inputs (a rank of a sharded run,
docs/scale-out.md): per-input streams draw only those, the same events as a schedule of all inputs.
"""
from __future__ import annotations

import numpy as np

from emulator.program import Program
from neuromap.poisson_stream import NEVER, PER_INPUT, SEQUENTIAL, PoissonStream  # noqa: F401  (NEVER: as before)


class InputSchedule:
    """Yields, chunk by chunk, the input spikes as a per-step CSR (``ptr`` over steps, input ids).

    ``keep`` (bool over the input ids, default all; per-input streams only, :data:`PER_INPUT`): the inputs whose
    events the schedule yields, the others' explicit spikes dropped and their Poisson streams not drawn."""

    def __init__(self, p: Program, keep: np.ndarray | None = None):
        kind = getattr(p, "poisson_stream", SEQUENTIAL)
        ids, pp = p.poisson_ids, p.poisson_p
        self.spike_step, self.spike_index, self.poisson_ids = p.spike_step, p.spike_index, ids
        if keep is None:
            self.poisson = PoissonStream(pp, p.seed, kind=kind)
        elif kind != PER_INPUT:
            raise ValueError(f"a {kind} Poisson stream cannot draw a subset of the inputs")
        else:
            keep = np.asarray(keep, bool)
            m = keep[self.spike_index]
            self.spike_step, self.spike_index = self.spike_step[m], self.spike_index[m]
            sel = np.flatnonzero(keep[ids])                  # stream index j: the Poisson input's ordinal
            self.poisson = PoissonStream(pp[sel], p.seed, kind=kind, ids=sel)
            self.poisson_ids = ids[sel]
        self.next_step = 0

    def chunk(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of steps ``t0 .. t0+n_steps-1`` (ids sorted within a step); chunks must be
        requested in order."""
        if t0 != self.next_step:
            raise ValueError("input chunks must be requested in step order")
        self.next_step = t0 + n_steps
        lo, hi = np.searchsorted(self.spike_step, [t0, t0 + n_steps])
        pptr, pj = self.poisson.chunk(t0, n_steps)
        if hi == lo:                                  # Poisson only: already in (step, id) order
            return pptr, np.ascontiguousarray(self.poisson_ids[pj], dtype=np.int64)
        step = np.concatenate([self.spike_step[lo:hi] - t0,
                               np.repeat(np.arange(n_steps, dtype=np.int64), np.diff(pptr))])
        idx = np.concatenate([self.spike_index[lo:hi], self.poisson_ids[pj]])
        order = np.lexsort((idx, step))
        ptr = np.zeros(n_steps + 1, np.int64)
        np.cumsum(np.bincount(step, minlength=n_steps), out=ptr[1:])
        return ptr, np.ascontiguousarray(idx[order], dtype=np.int64)


class PrefetchedInputs:
    """:class:`InputSchedule` read in blocks of ``block`` steps, the next block drawn on a background thread
    while the caller runs the current chunk (the Poisson kernels release the GIL, as do the engines' compiled
    loops): input generation overlaps the time loop instead of adding to it. The same ids in the same order as
    :meth:`InputSchedule.chunk` for any sequence of in-order chunks (a chunk may cut or span blocks).
    ``background(t0)``: whether the block starting at ``t0`` may be drawn on the thread now (e.g. only while a
    core is free); otherwise it is drawn on the calling thread when needed."""

    def __init__(self, sched: InputSchedule, block: int, steps: int, background=lambda t0: True):
        import concurrent.futures  # lazy: a thread pool only for runs that prefetch
        self.sched, self.block, self.steps, self.background = sched, max(1, int(block)), int(steps), background
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="neuromap-inputs")
        self.blocks: list[tuple[int, np.ndarray, np.ndarray]] = []   # (first step, ptr, ids), in order
        self.pending = None                                          # future of the next block
        self.next_block = 0                                          # first step of the next block to draw

    def _draw(self) -> tuple[int, np.ndarray, np.ndarray]:
        t0 = self.next_block
        n = min(self.block, self.steps - t0)
        self.next_block = t0 + n
        return (t0, *self.sched.chunk(t0, n))

    def _more(self) -> None:
        if self.pending is not None:
            self.blocks.append(self.pending.result())
            self.pending = None
        else:
            self.blocks.append(self._draw())

    def chunk(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of steps ``t0 .. t0+n_steps-1`` (as :meth:`InputSchedule.chunk`; in order)."""
        end = t0 + n_steps
        while not self.blocks or self.blocks[-1][0] + self.blocks[-1][1].size - 1 < end:
            self._more()
        while self.blocks and self.blocks[0][0] + self.blocks[0][1].size - 1 <= t0:
            self.blocks.pop(0)                                       # blocks wholly before t0
        ptrs, ids, base = [np.zeros(1, np.int64)], [], 0
        for b0, ptr, bid in self.blocks:
            lo, hi = max(t0, b0) - b0, min(end, b0 + ptr.size - 1) - b0
            if hi <= lo:
                continue
            ids.append(bid[ptr[lo]:ptr[hi]])
            ptrs.append(ptr[lo + 1:hi + 1] - ptr[lo] + base)
            base += int(ptr[hi] - ptr[lo])
        if (self.pending is None and self.next_block < self.steps and self.next_block - end < self.block
                and self.background(self.next_block)):
            self.pending = self.pool.submit(self._draw)               # the next block, while the caller runs
        if not ids:
            return np.concatenate(ptrs), np.zeros(0, np.int64)
        return np.concatenate(ptrs), (np.concatenate(ids) if len(ids) > 1 else ids[0])

    def close(self) -> None:
        if self.pending is not None:
            self.pending.result()
        self.pool.shutdown(wait=True)
