"""The posts-by-pre lists of the traffic pass (neuromap/placement/traffic.py ``_by_pre``), built by one counting
pass that writes the posts themselves (``counting_sort.group_values_by_key``), against numpy's stable sort."""
import numpy as np
import pytest

from neuromap.counting_sort import group_values_by_key
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.traffic import _by_pre


@pytest.mark.parametrize("seed", range(4))
def test_group_values_by_key_is_a_stable_grouping(seed):
    rng = np.random.default_rng(seed)
    n, buckets = int(rng.integers(0, 500)), int(rng.integers(1, 40))
    keys = rng.integers(0, buckets, n).astype(np.int32)
    values = rng.integers(-1000, 1000, n).astype(np.int32)
    out = np.empty(n, np.int32)
    ptr = group_values_by_key(keys, buckets, values, out)
    order = np.argsort(keys, kind="stable")
    assert np.array_equal(out, values[order])
    assert np.array_equal(ptr, np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=buckets))]))
    assert ptr.dtype == np.int64


def test_posts_by_pre_lists_every_synapse_of_a_pre_in_synapse_order():
    rng = np.random.default_rng(7)
    n, s = 60, 900
    pre, post = rng.integers(0, n, s).astype(np.int32), rng.integers(0, n, s).astype(np.int32)
    g = SynapseGraph.from_arrays(n, pre, post)
    ptr, posts = _by_pre(g)
    for v in range(n):
        assert posts[ptr[v]:ptr[v + 1]].tolist() == post[pre == v].tolist()
