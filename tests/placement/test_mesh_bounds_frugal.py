"""The mesh bounds' compiled row merge (neuromap/placement/mesh_bounds.py ``gilmore_lawler_of``, the large path
of ``_tile_exit_bound``): the same floats, bit for bit, as the bounds computed on ``traffic + traffic.T`` and on
the off-diagonal matrix with scipy (the way they were computed before), on random traffic matrices."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neuromap.placement.mesh_bounds import _tile_exit_bound, gilmore_lawler, gilmore_lawler_of


def _scipy_tile_exit(traffic, cpt: int) -> float:
    t = sp.csr_matrix(traffic, dtype=float)
    t = t - sp.diags(t.diagonal())
    t.eliminate_zeros()
    k = min(cpt, t.shape[0]) - 1
    bound = 0.0
    for m in (t, t.T.tocsr()):
        for c in range(t.shape[0]):
            w = np.sort(m.data[m.indptr[c]:m.indptr[c + 1]])[::-1]
            bound = max(bound, float(w[k:].sum()) / 4)
    return bound


def test_same_bounds_as_scipy():
    rng = np.random.default_rng(7)
    for trial in range(120):
        n = int(rng.integers(1, 40))
        nnz = int(rng.integers(0, n * n + 1))
        r, c = rng.integers(0, n, nnz), rng.integers(0, n, nnz)
        v = rng.choice([0.0, 1.0, 0.1, 0.3, 2.5, 1e-3], nnz) * (rng.random(nnz) if trial % 2 else 1.0)
        traffic = sp.coo_matrix((v, (r, c)), shape=(n, n)).tocsr()
        cpt = int(rng.integers(1, 5))
        assert gilmore_lawler_of(traffic, cpt) == gilmore_lawler(traffic + traffic.T, cpt)
        assert _tile_exit_bound(traffic, cpt, 0) == _scipy_tile_exit(traffic, cpt)     # max_groups 0: large path
