"""The documented Poisson input stream (docs/image-format.md *Inputs*), written straight from the documented
rule in plain Python, one draw at a time: the oracle every consumer of the stream (the float reference, both
emulator engines, the plastic loops, the Lava backend's input raster, the exported script) is checked
against (tests/model/test_poisson_inputs.py)."""
from __future__ import annotations

import heapq
import math

import numpy as np

from emulator.inputs import NEVER


def documented_stream(p, seed: int, steps: int) -> np.ndarray:
    """(steps, P) int raster of events per step written straight from the documented rule (pure Python):
    first one draw per input in order (p <= 1: first spike ``gap - 1``; p > 1: the count of step 0), then
    step by step in input order one draw per input with events in the step (p <= 1: the next gap; p > 1,
    every step: the next step's Poisson count by inversion)."""
    rng = np.random.default_rng(seed)
    ps = [float(q) for q in p]

    def gap(lq):
        u = rng.random()                                      # drawn even for p = 0 (its first spike)
        if lq == 0.0:
            return NEVER
        x = math.log1p(-u) / lq
        return NEVER if x >= NEVER else 1 + math.floor(x)

    def count(lam):
        u, k = rng.random(), 0
        pmf = math.exp(-lam)
        cdf = pmf
        while u >= cdf and pmf > 0.0:
            k += 1
            pmf = pmf * lam / k
            cdf = cdf + pmf
        return k

    lqs = [-math.inf if q >= 1 else math.log1p(-q) for q in ps]
    heap, cnt = [], {}
    for j, lq in enumerate(lqs):
        if ps[j] > 1:
            cnt[j] = count(ps[j])
            heap.append((0, j))
        else:
            heap.append((gap(lq) - 1, j))
    heapq.heapify(heap)
    r = np.zeros((steps, len(lqs)), np.int64)
    while heap and heap[0][0] < steps:
        s, j = heapq.heappop(heap)
        if ps[j] > 1:
            r[s, j] += cnt[j]
            cnt[j] = count(ps[j])
            heapq.heappush(heap, (s + 1, j))
        else:
            r[s, j] += 1
            heapq.heappush(heap, (s + gap(lqs[j]), j))
    return r

