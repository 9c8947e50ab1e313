"""Input spikes of a range of steps: explicit spike times replayed as given, Poisson inputs drawn from
``numpy.random.default_rng(seed)`` as geometric gaps between spikes (docs/image-format.md, *Inputs*).

Poisson input ``j`` (the ``j``-th Poisson input in input-id order, spike probability ``p_j`` per step)
spikes at steps ``s_0 < s_1 < ...`` with ``s_0 = gap(u) - 1`` and ``s_{k+1} = s_k + gap(u)``, each for a
fresh ``u = rng.random()``, where ``gap(u) = 1 + floor(x)``, ``x = log1p(-u) / log1p(-p_j)`` (float64,
C ``log1p``; :data:`NEVER` when ``x >= NEVER``; ``log1p(-1) = -inf``): the gaps of a per-step
Bernoulli(p_j) train (geometric on 1, 2, ...), one draw per spike instead of one per input and step.
Draw order: first one ``u`` per Poisson input in id order (their first spikes; ``p_j = 0`` included);
then, step by step, one ``u`` per Poisson input that spikes at that step, in id order. So the stream
depends only on the seed and the probabilities, never on how a run is cut into chunks. ``p_j = 0``
never spikes; ``p_j = 1`` spikes every step.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from emulator.program import Program

#: gap of an input that never spikes again (steps; ``2**62``)
NEVER = 1 << 62


def log_stay(p: np.ndarray) -> np.ndarray:
    """float64 ``log1p(-p)`` per Poisson input, ``-inf`` for ``p = 1`` (C ``log1p``, as the compiled kernels
    call it; numpy's own vectorized ``log1p`` may differ in the last bit)."""
    return np.array([-math.inf if x >= 1.0 else math.log1p(-x) for x in np.asarray(p, np.float64).tolist()],
                    np.float64)


@numba.njit(inline="always")
def gap(u, lq):
    """Steps to the next spike (>= 1) for uniform ``u`` in [0, 1) and ``lq = log1p(-p)``."""
    if lq == 0.0:
        return NEVER
    x = math.log1p(-u) / lq
    return NEVER if x >= NEVER else 1 + np.int64(math.floor(x))


@numba.njit(cache=True, nogil=True)
def first_spikes(rng, lq, nxt):
    """``nxt[j]`` <- the first spike step of every Poisson input (one draw each, in order)."""
    for j in range(lq.shape[0]):
        nxt[j] = gap(rng.random(), lq[j]) - 1


@numba.njit(inline="always")
def _before(nxt, a, b):
    """Heap order: input ``a`` spikes before ``b`` (earlier step, then lower index)."""
    return nxt[a] < nxt[b] or (nxt[a] == nxt[b] and a < b)


@numba.njit(cache=True, nogil=True)
def poisson_chunk(rng, lq, nxt, heap, t0, n, ptr):
    """Poisson spikes of steps ``t0 .. t0+n-1``: fills ``ptr`` (int64[n + 1], CSR over steps) and returns the
    spiking inputs' Poisson indices (int64, id order within a step); advances ``nxt``, ``heap`` (the inputs
    as a binary min-heap on (next spike step, index)) and ``rng``. Cost per spike, not per input and step."""
    out = np.empty(max(16, n), np.int64)
    c = 0
    P = heap.shape[0]
    for k in range(n + 1):
        ptr[k] = 0
    while nxt[heap[0]] < t0 + n:
        j = heap[0]
        t = nxt[j]
        if c == out.shape[0]:
            grown = np.empty(2 * c, np.int64)
            grown[:c] = out
            out = grown
        out[c] = j
        c += 1
        ptr[t - t0 + 1] += 1
        nxt[j] = t + gap(rng.random(), lq[j])
        i = 0                                               # sift the root down
        while True:
            a = 2 * i + 1
            if a >= P:
                break
            if a + 1 < P and _before(nxt, heap[a + 1], heap[a]):
                a += 1
            if not _before(nxt, heap[a], j):
                break
            heap[i] = heap[a]
            i = a
        heap[i] = j
    for k in range(n):
        ptr[k + 1] += ptr[k]
    return out[:c]


class PoissonStream:
    """The Poisson spikes of inputs with per-step probabilities ``p`` under ``seed``, chunk by chunk."""

    def __init__(self, p: np.ndarray, seed: int):
        self.rng = np.random.default_rng(seed)
        self.lq = log_stay(p)
        self.nxt = np.zeros(self.lq.size, np.int64)
        first_spikes(self.rng, self.lq, self.nxt)
        self.heap = np.lexsort((np.arange(self.lq.size), self.nxt)).astype(np.int64)   # sorted: a valid heap

    def chunk(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """(ptr int64[n_steps + 1], Poisson indices) of steps ``t0 .. t0+n_steps-1`` (requested in order)."""
        ptr = np.zeros(n_steps + 1, np.int64)
        if not self.lq.size:
            return ptr, np.zeros(0, np.int64)
        return ptr, poisson_chunk(self.rng, self.lq, self.nxt, self.heap, int(t0), int(n_steps), ptr)


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
