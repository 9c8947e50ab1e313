"""``poisson``: independent Poisson spike trains, one rate per neuron (Hz), and their one documented
event stream (docs/image-format.md, *Inputs*), shared by the float reference and every image consumer.

With ``p_j = rate_j * dt / 1000`` (expected events of input ``j`` per step):

* ``p_j <= 1``: a per-step Bernoulli(p_j) train (as ANNarchy's PoissonPopulation), at most one event per
  step. Gaps between spikes: ``gap(u) = 1 + floor(log1p(-u) / log1p(-p_j))`` for one fresh
  ``u = rng.random()`` per spike (geometric on 1, 2, ...; :data:`NEVER` when the quotient is ``>= NEVER``;
  ``log1p(-1) = -inf``, so ``p_j = 1`` spikes every step). First spike at ``gap(u) - 1``.
* ``p_j > 1``: a Poisson process of ``p_j`` events per step, binned into steps (as NEST's
  ``poisson_generator``: the count of a step is Poisson(p_j), several events per step, *multiplicity*).
  Event times ``tau_0 = e(u)``, ``tau_{k+1} = tau_k + e(u)`` (float64, in steps) with
  ``e(u) = -log1p(-u) / p_j`` for one fresh ``u`` per event; an event at ``tau`` lands in step
  ``floor(tau)``. The step's count is the number of ``tau`` in ``[s, s + 1)``.

Draw order (``rng = numpy.random.default_rng(seed)``, PCG64): first one ``u`` per input in input order
(``p_j = 0`` included); then step by step, in input order, every input with events in that step draws one
``u`` per event it emits (a ``p_j <= 1`` input one, a ``p_j > 1`` input as many as its count). So the
stream depends only on the seed and the ``p_j``, never on how a run is cut into chunks, and a longer run
extends a shorter one. Cost: one draw per event, plus one heap operation per (input, active step) for
sparse inputs or a scan of the inputs per step for dense ones (the same stream either way); memory
O(inputs).

The float reference draws the Poisson populations of a network as one stream (populations in network
order, members in order, ``seed`` = the network seed), exactly as the compiled image numbers them, so the
float run and the emulator see the same input events.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from neuromap.params import Param

PARAMS = {
    "rate": Param(10.0, lo=0.0, unit="Hz", per_neuron=True, doc="firing rate per neuron"),
}
STATE = ()
TARGETS: dict = {}
N_CHANNELS = 0

#: gap of an input that never spikes again (steps; ``2**62``)
NEVER = 1 << 62


def events_per_step(rate, dt: float) -> np.ndarray:
    """float64 ``rate * dt / 1000``: expected events per step of each input (Hz, ms); > 1 means several
    events per step (multiplicity)."""
    return np.asarray(rate, np.float64) * dt / 1000.0


def log_stay(p: np.ndarray) -> np.ndarray:
    """float64 ``log1p(-p)`` per input, ``-inf`` for ``p >= 1`` (C ``log1p``, as the compiled kernels
    call it; numpy's own vectorized ``log1p`` may differ in the last bit)."""
    return np.array([-math.inf if x >= 1.0 else math.log1p(-x) for x in np.asarray(p, np.float64).tolist()],
                    np.float64)


def multi_rate(p: np.ndarray) -> np.ndarray:
    """float64 per input: ``p`` where ``p > 1`` (a Poisson-count input), else 0 (a Bernoulli input)."""
    p = np.asarray(p, np.float64)
    return np.where(p > 1.0, p, 0.0)


@numba.njit(inline="always")
def gap(u, lq):
    """Steps to the next spike (>= 1) of a ``p <= 1`` input for uniform ``u`` in [0, 1) and
    ``lq = log1p(-p)``."""
    if lq == 0.0:
        return NEVER
    x = math.log1p(-u) / lq
    return NEVER if x >= NEVER else 1 + np.int64(math.floor(x))


@numba.njit(cache=True, nogil=True)
def first_spikes(rng, lq, lam, nxt, tau):
    """``nxt[j]`` <- the first event step of every input (one draw each, in order); ``tau[j]`` <- the first
    event time (steps, float64) of a ``p > 1`` input (``lam[j] = p > 0``)."""
    for j in range(lq.shape[0]):
        u = rng.random()
        if lam[j] > 0.0:
            tau[j] = -math.log1p(-u) / lam[j]
            nxt[j] = np.int64(math.floor(tau[j]))
        else:
            nxt[j] = gap(u, lq[j]) - 1


@numba.njit(inline="always")
def _before(nxt, a, b):
    """Heap order: input ``a`` spikes before ``b`` (earlier step, then lower index)."""
    return nxt[a] < nxt[b] or (nxt[a] == nxt[b] and a < b)


@numba.njit(inline="always")
def _push(out, c, j):
    """Append ``j`` at ``out[c]`` (doubling ``out`` when full); returns (out, c + 1)."""
    if c == out.shape[0]:
        grown = np.empty(2 * c, np.int64)
        grown[:c] = out
        out = grown
    out[c] = j
    return out, c + 1


@numba.njit(inline="always")
def _emit(rng, lq, lam, nxt, tau, j, t, t0, out, c, ptr):
    """Input ``j``'s events of step ``t`` (its next event step) into ``out[c:]`` (grown when full) and
    ``ptr``; advances ``nxt[j]`` (and ``tau[j]``) past them. Returns (out, new c)."""
    if lam[j] > 0.0:                                        # Poisson count: every event time in [t, t + 1)
        tj = tau[j]
        end = np.float64(t + 1)
        while tj < end:
            out, c = _push(out, c, j)
            ptr[t - t0 + 1] += 1
            tj = tj + -math.log1p(-rng.random()) / lam[j]
        tau[j] = tj
        nxt[j] = np.int64(math.floor(tj))
    else:
        out, c = _push(out, c, j)
        ptr[t - t0 + 1] += 1
        nxt[j] = t + gap(rng.random(), lq[j])
    return out, c


@numba.njit(cache=True, nogil=True)
def poisson_chunk(rng, lq, lam, nxt, tau, heap, t0, n, ptr, cap):
    """Events of steps ``t0 .. t0+n-1``: fills ``ptr`` (int64[n + 1], CSR over steps) and returns the
    inputs' indices (int64, input order within a step; an input with ``c`` events in a step appears ``c``
    times in a row); advances ``nxt``, ``tau``, ``heap`` (the inputs as a binary min-heap on (next event step,
    index)) and ``rng``. Cost per event, not per input and step. ``cap``: initial size of the output (it
    grows as needed)."""
    out = np.empty(max(16, cap), np.int64)
    c = 0
    P = heap.shape[0]
    for k in range(n + 1):
        ptr[k] = 0
    while nxt[heap[0]] < t0 + n:
        j = heap[0]
        out, c = _emit(rng, lq, lam, nxt, tau, j, nxt[j], t0, out, c, ptr)
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


@numba.njit(cache=True, nogil=True)
def poisson_chunk_scan(rng, lq, lam, nxt, tau, t0, n, ptr, cap):
    """:func:`poisson_chunk` for inputs active in most steps: every step scans the inputs in order instead
    of keeping a heap (the same events, draws and order; cost per input and step plus per event)."""
    P = lq.shape[0]
    out = np.empty(max(16, cap), np.int64)
    c = 0
    for k in range(n + 1):
        ptr[k] = 0
    for k in range(n):
        t = t0 + k
        for j in range(P):
            if nxt[j] == t:
                out, c = _emit(rng, lq, lam, nxt, tau, j, t, t0, out, c, ptr)
    for k in range(n):
        ptr[k + 1] += ptr[k]
    return out[:c]


class PoissonStream:
    """The events of inputs with ``p`` expected events per step under ``seed``, chunk by chunk (module doc)."""

    def __init__(self, p: np.ndarray, seed, scan: bool | None = None):
        """``scan``: force the per-step scan (True) or the heap (False); default: whichever is cheaper."""
        p = np.asarray(p, np.float64)
        self.rng = np.random.default_rng(seed)
        self.lq = log_stay(p)
        self.lam = multi_rate(p)
        self.nxt = np.zeros(self.lq.size, np.int64)
        self.tau = np.zeros(self.lq.size, np.float64)
        first_spikes(self.rng, self.lq, self.lam, self.nxt, self.tau)
        # inputs active in a step on average; a heap costs ~4 log2(P) per active input, a scan 1 per input
        active = float(np.minimum(p, 1.0).sum())
        self.per_step = float(p.sum())                          # expected events per step
        self.scan = active * 4.0 * (math.log2(self.lq.size + 1) + 1.0) > self.lq.size if scan is None else scan
        self.heap = None if self.scan else np.lexsort((np.arange(self.lq.size), self.nxt)).astype(np.int64)

    def chunk(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """(ptr int64[n_steps + 1], input indices) of steps ``t0 .. t0+n_steps-1`` (requested in order)."""
        ptr = np.zeros(n_steps + 1, np.int64)
        if not self.lq.size:
            return ptr, np.zeros(0, np.int64)
        cap = int(self.per_step * n_steps * 1.05) + 64          # expected events, grown if exceeded
        if self.scan:
            return ptr, poisson_chunk_scan(self.rng, self.lq, self.lam, self.nxt, self.tau, int(t0), int(n_steps),
                                           ptr, cap)
        return ptr, poisson_chunk(self.rng, self.lq, self.lam, self.nxt, self.tau, self.heap, int(t0),
                                  int(n_steps), ptr, cap)
