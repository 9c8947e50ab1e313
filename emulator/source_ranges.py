"""Spikes by source range (a population's ids): how many of a list of source ids fall into each range
(:func:`count_in_ranges`: the per-population spike counts ``neuromap run`` prints from a rank's records) and a
run's (step, source) rows split into each range's rows (:func:`rows_in_ranges`: the results file's
``spikes/<population>``), each in one pass without a per-spike temporary when the ranges are disjoint (a
population's neurons or inputs always are); overlapping ranges are counted and split by one mask per range."""
from __future__ import annotations

import numba
import numpy as np

from emulator.sharded import prefaulted


def _bounds(ranges: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(first, end) of every range, the order sorting them by first, and whether they are disjoint."""
    first = np.array([int(f) for f, _ in ranges], np.int64)
    end = first + np.array([int(n) for _, n in ranges], np.int64)
    order = np.argsort(first, kind="stable")
    f, e = first[order], end[order]
    return first, end, order, bool(np.all(f[1:] >= e[:-1]))


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(x, f, e):
    """The index (in ``f``'s sorted order) of the disjoint range holding ``x``, -1 if none (a branch-free count
    of the starts at or below ``x`` for a few ranges: source ids come in no predictable order across ranges)."""
    P = f.shape[0]
    if P <= 16:
        c = 0
        for m in range(P):
            c += f[m] <= x
        return c - 1 if c > 0 and x < e[c - 1] else -1
    lo, hi = 0, P
    while lo < hi:                      # the last range starting at or below x
        mid = (lo + hi) // 2
        if f[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1 if lo > 0 and x < e[lo - 1] else -1


@numba.njit(cache=True, nogil=True)
def _count(ids, f, e):
    out = np.zeros(f.shape[0], np.int64)
    for x in ids:
        j = _slot(x, f, e)
        if j >= 0:
            out[j] += 1
    return out


def count_in_ranges(ids: np.ndarray, ranges: list) -> np.ndarray:
    """How many of ``ids`` fall into each range ``(first, size)`` of ``ranges`` (int64, in the order of
    ``ranges``; ranges may overlap or leave gaps)."""
    ids = np.ascontiguousarray(ids)
    first, end, order, disjoint = _bounds(ranges)
    if not disjoint:
        return np.array([np.count_nonzero((ids >= a) & (ids < b)) for a, b in zip(first, end)], np.int64)
    out = np.zeros(first.size, np.int64)
    out[order] = _count(ids, first[order], end[order])
    return out


@numba.njit(cache=True, nogil=True)
def _count_rows(rows, f, e):
    out = np.zeros(f.shape[0], np.int64)
    for i in range(rows.shape[0]):
        j = _slot(rows[i, 1], f, e)
        if j >= 0:
            out[j] += 1
    return out


@numba.njit(cache=True, nogil=True)
def _split(rows, f, e, start, out):
    cur = start.copy()
    for i in range(rows.shape[0]):
        j = _slot(rows[i, 1], f, e)
        if j >= 0:
            w = cur[j]
            out[w, 0] = rows[i, 0]
            out[w, 1] = rows[i, 1] - f[j]
            cur[j] = w + 1


def rows_in_ranges(rows: np.ndarray, ranges: list) -> list[np.ndarray]:
    """The (step, source) int64 rows of ``rows`` whose source falls into each range ``(first, size)``, as
    (step, source - first) int64 rows in their order in ``rows`` (one array per range, in the order of
    ``ranges``)."""
    rows = np.ascontiguousarray(rows, np.int64).reshape(-1, 2)
    first, end, order, disjoint = _bounds(ranges)
    if not disjoint:
        src = rows[:, 1]
        out = []
        for a, b in zip(first, end):
            m = (src >= a) & (src < b)
            out.append(np.stack([rows[m, 0], src[m] - a], axis=1).astype(np.int64))
        return out
    f, e = first[order], end[order]
    counts = _count_rows(rows, f, e)
    start = np.zeros(f.size + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    flat = prefaulted((int(start[-1]), 2), np.int64)      # every row is written: pages mapped at once
    _split(rows, f, e, start, flat)
    pieces = [flat[start[j]:start[j + 1]] for j in range(f.size)]
    out = [None] * f.size
    for j, k in enumerate(order):
        out[k] = pieces[j]
    return out
