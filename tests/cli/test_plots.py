"""Plots (neuromap/plots.py): each is written, non-empty, a valid PNG/SVG, atomically, from small synthetic data."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from neuromap import plots
from neuromap.errors import NeuromapError
from neuromap.placement.routing import link_loads, route

PNG = b"\x89PNG\r\n\x1a\n"


def _ok(path, tmp_path, min_bytes=3000):
    data = open(path, "rb").read()
    assert len(data) > min_bytes
    if str(path).endswith(".png"):
        assert data[:8] == PNG
    else:
        assert b"<svg" in data[:2000]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_spike_raster(tmp_path):
    rng = np.random.default_rng(0)
    spikes = {"inp": (np.sort(rng.integers(0, 100, 300)), rng.integers(0, 20, 300)),
              "E": (np.sort(rng.integers(0, 100, 50)), rng.integers(0, 5, 50))}
    out = plots.spike_raster(spikes, {"inp": 20, "E": 5}, 0.5, tmp_path / "raster.png")
    _ok(out, tmp_path)
    _ok(plots.spike_raster(spikes, {"inp": 20, "E": 5}, 0.5, tmp_path / "raster.svg"), tmp_path)


def test_rate_comparison(tmp_path):
    out = plots.rate_comparison({"E": 10.0, "I": 25.0, "x": 1.0}, {"E": 11.0, "I": 24.0}, tmp_path / "rates.png")
    _ok(out, tmp_path)
    with pytest.raises(NeuromapError, match="no population"):
        plots.rate_comparison({"a": 1.0}, {"b": 1.0}, tmp_path / "r2.png")


def test_mesh_heatmap_uses_routing_link_loads(tmp_path):
    # 4 cores on a 3x2 mesh; core 0 -> 3 crosses two x links then one y link (XY routing)
    tx, ty = np.array([0, 1, 2, 2]), np.array([0, 0, 0, 1])
    traffic = sp.coo_matrix((np.array([5.0, 2.0]), (np.array([0, 1]), np.array([3, 0]))), shape=(4, 4))
    east, west, north, south = link_loads(traffic, tx, ty, (3, 2))
    assert east[0, :2].tolist() == [5.0, 5.0] and west[0, 0] == 2.0 and north[2, 0] == 5.0
    assert south.sum() == 0
    assert route(traffic, tx, ty, (3, 2)).max_link_load == 5.0
    out = plots.mesh_heatmap(tx, ty, east, west, north, south, tmp_path / "mesh.png", core_load=np.array([3, 1, 0, 2]))
    _ok(out, tmp_path)


def test_weight_histograms(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.uniform(0, 1, 500)
    q = np.round(w * 15) / 15
    _ok(plots.weight_histograms(w, q, tmp_path / "q.png", name="inp_to_E", aligned=True), tmp_path)
    _ok(plots.weight_histograms(w, q[:400], tmp_path / "q2.svg"), tmp_path)  # not aligned: histograms only
    with pytest.raises(NeuromapError, match="differ in length"):
        plots.weight_histograms(w, q[:400], tmp_path / "q3.png", aligned=True)


def test_weight_evolution(tmp_path):
    t = np.linspace(0, 100, 11)
    w = np.cumsum(np.random.default_rng(2).normal(0, 0.01, (11, 30)), axis=0) + 0.5
    _ok(plots.weight_evolution(t, w, tmp_path / "evo.png", name="rec"), tmp_path)
    with pytest.raises(NeuromapError, match="expected"):
        plots.weight_evolution(t[:3], w, tmp_path / "bad.png")


def test_bad_suffix(tmp_path):
    with pytest.raises(NeuromapError, match=r"\.png or \.svg"):
        plots.rate_comparison({"E": 1.0}, {"E": 1.0}, tmp_path / "rates.jpg")
    assert not list(tmp_path.iterdir())
