"""The documented Poisson input streams (docs/image-format.md, *Inputs*): foundation layer, imports numpy,
numba and :mod:`neuromap.errors` only, so the float reference (:mod:`neuromap.simulator`), the compiler and
every image consumer (:mod:`emulator.inputs`, the Lava backend) replay the same events without importing
one another. The neuron model ``poisson`` (:mod:`neuromap.neurons.poisson`) gives the rates.

With ``p_j = rate_j * dt / 1000`` (expected events of input ``j`` per step):

* ``p_j <= 1``: a per-step Bernoulli(p_j) train (as ANNarchy's PoissonPopulation), at most one event per
  step. Gaps between spikes: ``gap(u) = 1 + floor(log1p(-u) / log1p(-p_j))`` for one fresh uniform ``u``
  per spike (geometric on 1, 2, ...; :data:`NEVER` when the quotient is ``>= NEVER``; ``log1p(-1) = -inf``,
  so ``p_j = 1`` spikes every step). First spike at ``gap(u) - 1``.
* ``p_j > 1``: a Poisson(p_j) count of events every step (as NEST's ``poisson_generator``: several events
  per step, *multiplicity*): the count of a step is ``count(u) = min{k : F(k) > u}`` for one fresh ``u``,
  ``F(k) = pmf(0) + ... + pmf(k)``, ``pmf(0) = exp(-p_j)``, ``pmf(k) = pmf(k - 1) * p_j / k`` (float64, in
  this order; the sum stops growing when ``pmf`` underflows to 0, which ends the search). ``p_j`` above
  :data:`MAX_PER_STEP` is refused.

Input ``j`` draws its uniforms in this order: its first draw (*index* 0) gives its first spike (``p_j <= 1``,
``p_j = 0`` included) or its count of step 0 (``p_j > 1``); then each of its event steps ``t`` draws one more
(index ``t + 1``): a ``p_j <= 1`` input its next gap, a ``p_j > 1`` input (which takes part in every step, with
a count of 0 too) its count of step ``t + 1``. An input draws at most once a step, so the index names each of
its draws. Where the uniforms come from is the stream *kind* (the image's ``poisson_stream``):

* :data:`PER_INPUT` (``"per_input_v2"``, what ``compile`` writes): the draw of index ``k`` of input ``j`` is
  ``uniform(seed, j, k) = (bits >> 11) * 2**-53`` with ``bits = mix(key_j ^ mix((k + 1) * DELTA))``,
  ``key_j = mix(mix(seed + GAMMA) + (j + 1) * GAMMA)``, every operation modulo ``2**64``, ``mix`` SplitMix64's
  finalizer (:func:`mix`; constants :data:`GAMMA`, :data:`DELTA`). A counter-based generator: input ``j``'s
  events depend on ``(seed, j, p_j)`` only, so any subset of the inputs (a rank's, docs/scale-out.md) is drawn
  without the others, in any order; ``mix((k + 1) * DELTA)`` (:func:`salt`) is the same for every input drawing
  in a step, so the kernels compute it once a step. (``per_input_v1``, which counted each input's draws instead
  of indexing them by step, was written by development builds for 40 minutes on 2026-12-08 and is refused.)
* :data:`SEQUENTIAL` (``"sequential"``, images without ``poisson_stream``): one
  ``rng = numpy.random.default_rng(seed)`` (PCG64) for all inputs: first one ``u`` per input in input order,
  then step by step, in input order, every input with events in that step draws its next ``u``.

Either way the stream depends only on the seed and the ``p_j``, never on how a run is cut into chunks, and a
longer run extends a shorter one. Cost: one draw per spike of a ``p_j <= 1`` input and one per step of a
``p_j > 1`` input (whatever its count), plus one heap operation per (input, active step) for sparse inputs
or a scan of the inputs per step for dense ones (the same stream either way); memory O(inputs).
"""
from __future__ import annotations

import math

import numba
import numba.extending
import numpy as np

from neuromap.errors import NeuromapError

#: gap of an input that never spikes again (steps; ``2**62``)
NEVER = 1 << 62

#: the stream kinds (module doc): one PCG64 generator over all inputs, and the counter-based per-input streams
#: (per_input_v1, a draw counter per input, existed for 40 minutes of development and is not read)
SEQUENTIAL = "sequential"
PER_INPUT = "per_input_v2"
KINDS = (SEQUENTIAL, PER_INPUT)
#: the kind new compiles and ``neuromap.simulate`` use
DEFAULT_KIND = PER_INPUT

#: SplitMix64's increment (the golden ratio in 64 bits): the input keys step by it
GAMMA = 0x9E3779B97F4A7C15
#: the draw counter's increment (another odd constant, so a key never meets the counter sequence by design)
DELTA = 0xD1B54A32D192ED03
_MASK = (1 << 64) - 1


def check_kind(kind: str, where: str = "poisson_stream") -> str:
    """``kind`` if it is a known stream kind, else a one-line :class:`NeuromapError` naming ``where``."""
    if kind not in KINDS:
        raise NeuromapError(f"{where}: unknown Poisson stream kind {kind!r} (known: {', '.join(KINDS)}; a newer "
                            "neuromap wrote it: upgrade, or recompile the network)")
    return kind


@numba.njit(inline="always")
def mix(z):
    """SplitMix64's finalizer of a uint64 (a bijection): ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
    z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31`` modulo ``2**64``."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def salt(k):
    """``mix((k + 1) * DELTA)``: what every input's draw of index ``k`` (int64 >= 0) mixes with its key (the same
    for every input, so a kernel computes it once per step)."""
    return mix(np.uint64(k + 1) * np.uint64(DELTA))


@numba.njit(inline="always")
def keyed_uniform(key, s):
    """``(mix(key ^ s) >> 11) * 2**-53``: a float64 in [0, 1), a multiple of ``2**-53``."""
    return np.float64(mix(key ^ s) >> np.uint64(11)) * 1.1102230246251565e-16


@numba.njit(inline="always")
def uniform(key, k):
    """The draw of index ``k`` (int64 >= 0) of the input with key ``key`` (uint64, :func:`input_keys`;
    module doc)."""
    return keyed_uniform(key, salt(k))


@numba.njit(cache=True, nogil=True)
def _keys(base, ids, out):
    for i in range(ids.shape[0]):
        out[i] = mix(base + np.uint64(ids[i] + 1) * np.uint64(GAMMA))


def seed_base(seed: int) -> int:
    """``mix(seed + GAMMA)`` (Python int): what every input key of ``seed`` starts from."""
    z = (int(seed) + GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def input_keys(seed: int, ids: np.ndarray) -> np.ndarray:
    """uint64 ``key_j = mix(mix(seed + GAMMA) + (j + 1) * GAMMA)`` of every input ``j`` in ``ids`` (module doc)."""
    ids = np.ascontiguousarray(ids, np.int64)
    out = np.empty(ids.size, np.uint64)
    if ids.size:
        _keys(np.uint64(seed_base(seed)), ids, out)
    return out


def log_stay(p: np.ndarray) -> np.ndarray:
    """float64 ``log1p(-p)`` per input, ``-inf`` for ``p >= 1`` (C ``log1p``, as the compiled kernels
    call it; numpy's own vectorized ``log1p`` may differ in the last bit)."""
    return np.array([-math.inf if x >= 1.0 else math.log1p(-x) for x in np.asarray(p, np.float64).tolist()],
                    np.float64)


#: largest expected events per step of one input (exp(-p) must not underflow); split larger sources
MAX_PER_STEP = 700.0


def multi_rate(p: np.ndarray) -> np.ndarray:
    """float64 per input: ``p`` where ``p > 1`` (a Poisson-count input), else 0 (a Bernoulli input)."""
    p = np.asarray(p, np.float64)
    return np.where(p > 1.0, p, 0.0)


def stay_poisson(lam: np.ndarray) -> np.ndarray:
    """float64 ``exp(-lam)`` per input (Python's ``math.exp``), 0 where ``lam`` is 0 (unused)."""
    return np.array([math.exp(-x) if x > 0.0 else 0.0 for x in np.asarray(lam, np.float64).tolist()], np.float64)


@numba.njit(inline="always")
def gap(u, lq):
    """Steps to the next spike (>= 1) of a ``p <= 1`` input for uniform ``u`` in [0, 1) and
    ``lq = log1p(-p)``."""
    if lq == 0.0:
        return NEVER
    x = math.log1p(-u) / lq
    return NEVER if x >= NEVER else 1 + np.int64(math.floor(x))


@numba.njit(inline="always")
def count(u, lam, elam):
    """Events of one step of a ``p > 1`` input: the Poisson(``lam``) quantile of uniform ``u`` by
    inversion (``elam = exp(-lam)``; module doc)."""
    k = 0
    pmf = elam
    cdf = pmf
    while u >= cdf and pmf > 0.0:
        k += 1
        pmf = pmf * lam / k
        cdf = cdf + pmf
    return k


def _draw(rng, keys, s, j):
    """Input ``j``'s next uniform: of its own stream (:data:`PER_INPUT`: ``keys`` holds a key per input, ``s`` the
    salt of the draw's index) or the next of the one generator ``rng`` (:data:`SEQUENTIAL`: ``keys`` is None).
    Compiled kernels get one of the two by the type of ``keys`` (:func:`_draw_of`), never a branch between them
    (a kernel holding both paths ran 20 % slower, either kind)."""
    return rng.random() if keys is None else keyed_uniform(keys[j], s)


@numba.extending.overload(_draw, inline="always")
def _draw_of(rng, keys, s, j):
    if isinstance(keys, numba.types.NoneType):
        return lambda rng, keys, s, j: rng.random()
    return lambda rng, keys, s, j: keyed_uniform(keys[j], s)


@numba.njit(cache=True, nogil=True)
def first_spikes(rng, keys, lq, lam, elam, nxt, cnt):
    """``nxt[j]`` <- the first event step of every input (one draw each, in order; draw index 0); a ``p > 1``
    input (``lam[j] = p > 0``) gets ``nxt[j] = 0`` and ``cnt[j]`` <- its count of step 0."""
    s0 = salt(0)
    for j in range(lq.shape[0]):
        u = _draw(rng, keys, s0, j)
        if lam[j] > 0.0:
            cnt[j] = count(u, lam[j], elam[j])
            nxt[j] = 0
        else:
            nxt[j] = gap(u, lq[j]) - 1


@numba.njit(inline="always")
def _before(nxt, a, b):
    """Heap order: input ``a`` spikes before ``b`` (earlier step, then lower index)."""
    return nxt[a] < nxt[b] or (nxt[a] == nxt[b] and a < b)


@numba.njit(nogil=True)
def _grown(out, c, need):
    """``out[:c]`` in a new array of at least ``need`` entries (twice the old size or more)."""
    grown = np.empty(max(need, 2 * out.shape[0]), np.int64)
    grown[:c] = out[:c]
    return grown


@numba.njit(inline="always")
def _events(lam, cnt, j):
    """Events input ``j`` emits at its next event step (its count for a ``p > 1`` input, else 1)."""
    return cnt[j] if lam[j] > 0.0 else 1


@numba.njit(inline="always")
def _emit(rng, keys, s, lq, lam, elam, nxt, cnt, j, t, t0, out, c, ptr):
    """Input ``j``'s events of step ``t`` (its next event step) into ``out[c:]`` (the caller made room:
    :func:`_events`; growing here would cost a reference count per event) and ``ptr``; draws its next gap
    (``p <= 1``) or next step's count (``p > 1``), draw index ``t + 1`` (``s = salt(t + 1)``). Returns the new c."""
    if lam[j] > 0.0:                                        # Poisson count, every step
        for _ in range(cnt[j]):
            out[c] = j
            c += 1
        ptr[t - t0 + 1] += cnt[j]
        cnt[j] = count(_draw(rng, keys, s, j), lam[j], elam[j])
        nxt[j] = t + 1
    else:
        out[c] = j
        c += 1
        ptr[t - t0 + 1] += 1
        nxt[j] = t + gap(_draw(rng, keys, s, j), lq[j])
    return c


@numba.njit(cache=True, nogil=True)
def poisson_chunk(rng, keys, lq, lam, elam, nxt, cnt, heap, t0, n, ptr, cap):
    """Events of steps ``t0 .. t0+n-1``: fills ``ptr`` (int64[n + 1], CSR over steps) and returns the
    inputs' indices (int64, input order within a step; an input with ``c`` events in a step appears ``c``
    times in a row); advances ``nxt``, ``cnt``, ``heap`` (the inputs as a binary min-heap on (next event step,
    index)) and ``rng``. Cost per spike of ``p <= 1`` inputs, not per input and step.
    ``cap``: initial size of the output (it grows as needed)."""
    out = np.empty(max(16, cap), np.int64)
    c = 0
    P = heap.shape[0]
    st = np.int64(-1)                                       # the step of the salt s
    s = np.uint64(0)
    for k in range(n + 1):
        ptr[k] = 0
    while nxt[heap[0]] < t0 + n:
        j = heap[0]
        if c + _events(lam, cnt, j) > out.shape[0]:
            out = _grown(out, c, c + _events(lam, cnt, j))
        t = nxt[j]
        if t != st:                                         # the events come in step order: one salt a step
            st = t
            s = salt(t + 1)
        c = _emit(rng, keys, s, lq, lam, elam, nxt, cnt, j, t, t0, out, c, ptr)
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
def poisson_chunk_scan(rng, keys, lq, lam, elam, nxt, cnt, t0, n, ptr, cap):
    """:func:`poisson_chunk` for inputs active in most steps: every step scans the inputs in order instead
    of keeping a heap (the same events, draws and order; cost per input and step plus per event)."""
    P = lq.shape[0]
    out = np.empty(max(16, cap), np.int64)
    c = 0
    for k in range(n + 1):
        ptr[k] = 0
    mc = 0                                                  # events due from the p > 1 inputs' counts
    for j in range(P):
        if lam[j] > 0.0:
            mc += cnt[j]
    for k in range(n):
        t = t0 + k
        s = salt(t + 1)                                     # every draw of step t: index t + 1
        if c + P + mc > out.shape[0]:                       # room for the step, checked once per step: a
            out = _grown(out, c, c + P + mc)                # check per event slows the loop ~2x (references)
        for j in range(P):
            if nxt[j] == t:
                before = cnt[j]
                c = _emit(rng, keys, s, lq, lam, elam, nxt, cnt, j, t, t0, out, c, ptr)
                mc += cnt[j] - before
    for k in range(n):
        ptr[k + 1] += ptr[k]
    return out[:c]


class PoissonStream:
    """The events of inputs with ``p`` expected events per step under ``seed``, chunk by chunk (module doc).

    ``kind``: the stream kind (:data:`KINDS`). ``ids`` (:data:`PER_INPUT` only): the stream index ``j`` of each
    entry of ``p`` (default ``0, 1, ...``), so a subset of a larger set of inputs draws exactly their events;
    a :data:`SEQUENTIAL` stream always holds every input. Event indices are positions in ``p``."""

    def __init__(self, p: np.ndarray, seed, scan: bool | None = None, kind: str = DEFAULT_KIND,
                 ids: np.ndarray | None = None):
        """``scan``: force the per-step scan (True) or the heap (False); default: whichever is cheaper."""
        p = np.asarray(p, np.float64)
        if p.size and not p.max() <= MAX_PER_STEP:
            raise NeuromapError(f"a Poisson input of {p.max():g} events per step (rate * dt / 1000) exceeds "
                                f"{MAX_PER_STEP:g}; split it into several inputs of a lower rate")
        self.kind = check_kind(kind)
        if ids is not None and kind != PER_INPUT:
            raise ValueError("a sequential Poisson stream holds every input (no ids)")
        if ids is not None and np.asarray(ids).shape != p.shape:
            raise ValueError("ids must give one stream index per input")
        # sequential: the one generator; per input: one key per input (rng unused, but the kernels' argument)
        self.rng = np.random.default_rng(seed if kind == SEQUENTIAL else 0)
        self.keys = input_keys(seed, np.arange(p.size) if ids is None else ids) if kind == PER_INPUT else None
        self.lq = log_stay(p)
        self.lam = multi_rate(p)
        self.elam = stay_poisson(self.lam)
        self.nxt = np.zeros(self.lq.size, np.int64)
        self.cnt = np.zeros(self.lq.size, np.int64)
        first_spikes(self.rng, self.keys, self.lq, self.lam, self.elam, self.nxt, self.cnt)
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
            return ptr, poisson_chunk_scan(self.rng, self.keys, self.lq, self.lam, self.elam, self.nxt,
                                           self.cnt, int(t0), int(n_steps), ptr, cap)
        return ptr, poisson_chunk(self.rng, self.keys, self.lq, self.lam, self.elam, self.nxt, self.cnt,
                                  self.heap, int(t0), int(n_steps), ptr, cap)
