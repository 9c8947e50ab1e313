"""emulator/source_ranges.py: per-range counts and (step, source) rows split by range, against one numpy mask per
range (the definition), on random ids with disjoint, touching, empty, out-of-order and overlapping ranges."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.source_ranges import count_in_ranges, rows_in_ranges

RANGES = [[(0, 100), (100, 50), (300, 200)],          # disjoint, touching, a gap
          [(300, 200), (0, 100), (150, 0)],          # out of order, an empty range
          [(10, 0), (0, 40), (20, 100)],             # overlapping
          [(0, 1000)], []]


def _mask_rows(rows, a, n):
    m = (rows[:, 1] >= a) & (rows[:, 1] < a + n)
    return np.stack([rows[m, 0], rows[m, 1] - a], axis=1)


@pytest.mark.parametrize("ranges", RANGES)
def test_counts_and_rows_equal_one_mask_per_range(ranges):
    rng = np.random.default_rng(len(ranges))
    ids = rng.integers(-5, 600, 5000)
    rows = np.stack([np.sort(rng.integers(0, 50, ids.size)), ids], axis=1).astype(np.int64)
    assert count_in_ranges(ids.astype(np.int32), ranges).tolist() == \
        [int(np.count_nonzero((ids >= a) & (ids < a + n))) for a, n in ranges]
    got = rows_in_ranges(rows, ranges)
    assert len(got) == len(ranges)
    for (a, n), g in zip(ranges, got):
        want = _mask_rows(rows, a, n)
        assert g.dtype == np.int64 and g.shape == want.shape and np.array_equal(g, want)
    assert [g.shape for g in rows_in_ranges(rows[:0], ranges)] == [(0, 2)] * len(ranges)
