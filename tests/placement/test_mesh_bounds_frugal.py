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


def test_column_blocks_are_the_csc_and_the_bounds_do_not_depend_on_them(monkeypatch):
    """``column_blocks`` lists every column as ``tocsc()`` does (rows ascending), in blocks of at most the given
    entries (or one column); the bounds are the same floats with blocks of 1, 3 and all entries."""
    from neuromap.placement import mesh_bounds
    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(1, 30))
        nnz = int(rng.integers(0, n * n + 1))
        v = rng.choice([0.0, 1.0, 0.1, 0.3, 2.5], nnz) * (rng.random(nnz) if trial % 2 else 1.0)
        t = sp.coo_matrix((v, (rng.integers(0, n, nnz), rng.integers(0, n, nnz))), shape=(n, n)).tocsr()
        csc = t.tocsc()
        for cap in (1, 3, 10 ** 9):
            seen = 0
            for c0, c1, cptr, cind, cdata in mesh_bounds.column_blocks(t, cap):
                assert c0 == seen and (cptr[c1] - cptr[c0] <= cap or c1 == c0 + 1)
                for c in range(c0, c1):
                    lo, hi = csc.indptr[c], csc.indptr[c + 1]
                    assert cind[cptr[c]:cptr[c + 1]].tolist() == csc.indices[lo:hi].tolist()
                    assert cdata[cptr[c]:cptr[c + 1]].tolist() == csc.data[lo:hi].tolist()
                seen = c1
            assert seen == n
        cpt = int(rng.integers(1, 5))
        want = gilmore_lawler(t + t.T, cpt), _scipy_tile_exit(t, cpt)
        for block in (1, 3):
            monkeypatch.setattr(mesh_bounds, "BLOCK_ENTRIES", block)
            monkeypatch.setattr(mesh_bounds, "column_blocks",
                                lambda m, cap=None, f=mesh_bounds.column_blocks, b=block: f(m, b))
            assert (gilmore_lawler_of(t, cpt), _tile_exit_bound(t, cpt, 0)) == want
