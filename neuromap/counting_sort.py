"""Stable counting sort (LSD radix) of integer keys: the O(n + buckets) sort the compile passes use
instead of comparison sorts (lowering's synapse layout, packing's fan-in order)."""
from __future__ import annotations

import numba
import numpy as np


def index_dtype(n: int):
    """int32 for indices below 2**31 (half the memory), else int64."""
    return np.int32 if n < 2 ** 31 else np.int64


@numba.njit(cache=True)
def _counting_pass(keys, n_buckets, perm, out):  # pragma: no cover - compiled
    """``out`` = ``perm`` stably sorted by ``keys[perm]`` (values 0..n_buckets-1)."""
    cnt = np.zeros(n_buckets + 1, np.int64)
    for i in range(perm.shape[0]):
        cnt[keys[perm[i]] + 1] += 1
    for b in range(n_buckets):
        cnt[b + 1] += cnt[b]
    for i in range(perm.shape[0]):
        k = keys[perm[i]]
        out[cnt[k]] = perm[i]
        cnt[k] += 1


@numba.njit(cache=True)
def group_by_lookup(items, bucket_of, n_buckets, perm):  # pragma: no cover - compiled
    """``perm`` <- the indices ``0 .. len(items) - 1`` stably grouped by ``bucket_of[items[i]]`` (values
    0..n_buckets-1; e.g. synapses by the core of their post neuron, with no key array materialized); returns
    the start of every bucket's run (int64, n_buckets + 1)."""
    cnt = np.zeros(n_buckets + 1, np.int64)
    for i in range(items.shape[0]):
        cnt[bucket_of[items[i]] + 1] += 1
    for b in range(n_buckets):
        cnt[b + 1] += cnt[b]
    fill = cnt[:-1].copy()
    for i in range(items.shape[0]):
        b = bucket_of[items[i]]
        perm[fill[b]] = i
        fill[b] += 1
    return cnt


@numba.njit(cache=True)
def group_values_by_key(keys, n_buckets, values, out):  # pragma: no cover - compiled
    """``out`` <- ``values`` stably grouped by ``keys`` (values 0..n_buckets-1): ``values[perm]`` for the ``perm``
    of :func:`group_by_lookup` with the identity lookup, without that per-item index array; returns the start of
    every bucket's run (int64, n_buckets + 1)."""
    cnt = np.zeros(n_buckets + 1, np.int64)
    for i in range(keys.shape[0]):
        cnt[keys[i] + 1] += 1
    for b in range(n_buckets):
        cnt[b + 1] += cnt[b]
    fill = cnt[:-1].copy()
    for i in range(keys.shape[0]):
        b = keys[i]
        out[fill[b]] = values[i]
        fill[b] += 1
    return cnt


def stable_order(keys_least_significant_first: list[tuple[np.ndarray, int]], n: int) -> np.ndarray:
    """The stable order of ``n`` items sorted by several non-negative integer keys, each given as
    (keys, number of distinct values), least significant first (as ``np.lexsort``); O(n + buckets) per key."""
    perm = np.arange(n, dtype=index_dtype(n))
    out = np.empty_like(perm)
    for keys, buckets in keys_least_significant_first:
        _counting_pass(keys, int(buckets), perm, out)
        perm, out = out, perm
    return perm
