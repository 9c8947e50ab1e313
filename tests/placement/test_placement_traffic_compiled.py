"""The compiled passes for whole-number rates (the default ``uniform``): ``traffic.core_traffic`` (the core x core
CSR straight from the posts by pre) and ``inter_core_packets`` against scipy's COO -> CSR of the distinct (source,
core) pairs and numpy's sum (the way they are computed for other rates), same arrays and dtypes; ``routing.route``
and ``hop_cost`` on a whole-number CSR against their array path (the same matrix as COO) on random graphs."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neuromap.placement.graph import SynapseGraph
from neuromap.placement.routing import hop_cost, route
from neuromap.placement.traffic import (
    core_traffic,
    inter_core_packets,
    neuron_target_cores,
    release_caches,
    whole_rates,
)


def _pairs_csr(graph, core_of, rates, n_cores):
    src, dst = neuron_target_cores(graph, core_of)
    m = sp.coo_matrix((rates[src], (core_of[src], dst)), shape=(n_cores, n_cores)).tocsr()
    return m, float(rates[src[core_of[src] != dst]].sum())


def test_compiled_traffic_is_scipys_csr_of_the_pairs():
    for seed in range(120):
        rng = np.random.default_rng(seed)
        n, s = int(rng.integers(1, 120)), int(rng.integers(0, 2500))
        g = SynapseGraph.from_arrays(n, rng.integers(0, n, s), rng.integers(0, n, s))
        core_of = rng.integers(0, int(rng.integers(1, 50)), n)
        n_cores = int(core_of.max()) + 1 + int(rng.integers(0, 3))      # trailing empty cores too
        rates = rng.integers(0, 4, n).astype(float) if seed % 2 else np.ones(n)
        assert whole_rates(rates, s)
        want, packets = _pairs_csr(g, core_of, rates, n_cores)
        release_caches()
        got = core_traffic(g, core_of, rates, n_cores)
        for f in ("indptr", "indices", "data"):
            a, b = getattr(want, f), getattr(got, f)
            assert a.dtype == b.dtype and np.array_equal(a, b), f
        assert inter_core_packets(g, core_of, rates) == packets
        release_caches()


def test_fractional_rates_take_the_pairs_path():
    rng = np.random.default_rng(3)
    n, s = 50, 600
    g = SynapseGraph.from_arrays(n, rng.integers(0, n, s), rng.integers(0, n, s))
    core_of = rng.integers(0, 7, n)
    rates = rng.random(n)
    assert not whole_rates(rates, s) and not whole_rates(-np.ones(n), s)
    want, packets = _pairs_csr(g, core_of, rates, 7)
    got = core_traffic(g, core_of, rates, 7)
    assert np.array_equal(want.indices, got.indices) and np.array_equal(want.data, got.data)
    assert inter_core_packets(g, core_of, rates) == packets


def test_route_and_hop_cost_of_whole_traffic_match_the_array_path():
    for seed in range(80):
        rng = np.random.default_rng(100 + seed)
        n = int(rng.integers(1, 40))
        nnz = int(rng.integers(0, 4 * n + 1))
        v = rng.integers(0, 5, nnz).astype(float)
        t = sp.coo_matrix((v, (rng.integers(0, n, nnz), rng.integers(0, n, nnz))), shape=(n, n)).tocsr()
        nx, ny = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        tx, ty = rng.integers(0, nx, n), rng.integers(0, ny, n)
        assert route(t, tx, ty, (nx, ny)) == route(t.tocoo(), tx, ty, (nx, ny))
        assert hop_cost(t, tx, ty) == hop_cost(t.tocoo(), tx, ty)
