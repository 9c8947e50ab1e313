"""The documented Poisson input streams (docs/image-format.md *Inputs*), written straight from the documented
rules in plain Python, one draw at a time: the oracle every consumer of the streams (the float reference, both
emulator engines, the plastic loops, the sharded ranks, the Lava backend's input raster, the exported script)
is checked against (tests/model/test_poisson_inputs.py, tests/model/test_poisson_per_input.py). Python ints
for the per-input generator's 64-bit arithmetic, nothing from :mod:`neuromap.poisson_stream` but the kind
names."""
from __future__ import annotations

import heapq
import math

import numpy as np

from neuromap.poisson_stream import NEVER, PER_INPUT, SEQUENTIAL

M64 = (1 << 64) - 1
GAMMA, DELTA = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03     # docs/image-format.md *Inputs*


def mix(z: int) -> int:
    """SplitMix64's finalizer, modulo 2**64."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def key(seed: int, j: int) -> int:
    """``key_j = mix(mix(seed + GAMMA) + (j + 1) * GAMMA)``."""
    return mix((mix(seed + GAMMA) + (j + 1) * GAMMA) & M64)


def bits(seed: int, j: int, k: int) -> int:
    """``mix(key_j ^ mix((k + 1) * DELTA))``: the 64 bits of the draw of index k of input j."""
    return mix(key(seed, j) ^ mix(((k + 1) * DELTA) & M64))


def uniform(seed: int, j: int, k: int) -> float:
    """The draw of index k of input j: ``(bits >> 11) * 2**-53``."""
    return (bits(seed, j, k) >> 11) * 2.0 ** -53


def documented_stream(p, seed: int, steps: int, kind: str = SEQUENTIAL) -> np.ndarray:
    """(steps, P) int raster of events per step written straight from the documented rule (pure Python).

    Per input, the first draw gives its first spike ``gap - 1`` (p <= 1) or its count of step 0 (p > 1); each
    event step t then draws one more (p <= 1: the next gap; p > 1, every step: the Poisson count of step t + 1
    by inversion). ``kind`` ``sequential``: the draws come from one ``default_rng(seed)``, first one per input
    in order, then step by step in input order; ``per_input_v2``: input j's first draw is ``uniform(seed, j,
    0)``, the draw at its event step t ``uniform(seed, j, t + 1)``, each input on its own (drawn here one input
    after the other: the order does not matter)."""
    ps = [float(q) for q in p]
    lqs = [-math.inf if q >= 1 else math.log1p(-q) for q in ps]
    if kind == PER_INPUT:
        r = np.zeros((steps, len(ps)), np.int64)
        for j in range(len(ps)):
            if ps[j] > 1:                                     # the count of step t: draw index t
                for t in range(steps):
                    r[t, j] = _count(uniform(seed, j, t), ps[j])
                continue
            t = _gap(uniform(seed, j, 0), lqs[j]) - 1
            while t < steps:
                r[t, j] = 1
                t += _gap(uniform(seed, j, t + 1), lqs[j])
        return r
    assert kind == SEQUENTIAL, kind
    rng = np.random.default_rng(seed)
    heap, cnt = [], {}
    for j, lq in enumerate(lqs):
        if ps[j] > 1:
            cnt[j] = _count(rng.random(), ps[j])
            heap.append((0, j))
        else:
            heap.append((_gap(rng.random(), lq) - 1, j))       # drawn even for p = 0 (its first spike)
    heapq.heapify(heap)
    r = np.zeros((steps, len(lqs)), np.int64)
    while heap and heap[0][0] < steps:
        s, j = heapq.heappop(heap)
        if ps[j] > 1:
            r[s, j] += cnt[j]
            cnt[j] = _count(rng.random(), ps[j])
            heapq.heappush(heap, (s + 1, j))
        else:
            r[s, j] += 1
            heapq.heappush(heap, (s + _gap(rng.random(), lqs[j]), j))
    return r


def _gap(u: float, lq: float) -> int:
    if lq == 0.0:
        return NEVER
    x = math.log1p(-u) / lq
    return NEVER if x >= NEVER else 1 + math.floor(x)


def _count(u: float, lam: float) -> int:
    k = 0
    pmf = math.exp(-lam)
    cdf = pmf
    while u >= cdf and pmf > 0.0:
        k += 1
        pmf = pmf * lam / k
        cdf = cdf + pmf
    return k
