"""XY (dimension-order) routing on the board's tile mesh: per-link loads and hop statistics.

A packet from tile (ax, ay) to (bx, by) first moves along x (east-west links) in row
ay, then along y (north-south links) in column bx. Packets between cores of one tile
take 0 hops. Loads are packets per step per directed link.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from neuromap.counting_sort import index_dtype


@dataclass(frozen=True)
class RouteStats:
    """Routing summary for a core-traffic matrix and core positions (packets per step)."""

    hop_weighted_traffic: float   # sum over packets of hops
    x_hop_traffic: float          # east-west part of it
    y_hop_traffic: float          # north-south part of it
    local_packets: float          # packets with 0 hops (same core or same tile)
    remote_packets: float         # packets with >= 1 hop
    mean_hops: float              # per remote packet
    max_hops: int                 # longest route with traffic
    max_link_load: float          # busiest directed link
    mean_link_load: float         # over links that carry traffic
    max_route_x: int              # x hops of the longest (in hops) route with traffic
    max_route_y: int


def _entries(traffic: sp.spmatrix, positive: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, packets) of the stored entries of ``traffic`` (only the positive ones when ``positive``) in
    the order ``coo_matrix(traffic)`` lists them, without a COO copy of a CSR matrix (int32 rows there)."""
    if sp.isspmatrix_csr(traffic):
        t = traffic
        row = np.repeat(np.arange(t.shape[0], dtype=index_dtype(t.shape[0])), np.diff(t.indptr))
        col, w = t.indices, t.data
    else:
        t = sp.coo_matrix(traffic)
        row, col, w = t.row, t.col, t.data
    if positive:
        keep = w > 0
        if not keep.all():
            row, col, w = row[keep], col[keep], w[keep]
        w = np.asarray(w, float)
    return row, col, w


def route(traffic: sp.spmatrix, tile_x: np.ndarray, tile_y: np.ndarray,
          shape: tuple[int, int] | None = None) -> RouteStats:
    """Route every nonzero traffic[a, b] from core a's tile to core b's tile with XY routing."""
    tile_x, tile_y = np.asarray(tile_x, np.int64), np.asarray(tile_y, np.int64)
    if shape is None:
        shape = (int(max(tile_x.max(initial=0), 0)) + 1, int(max(tile_y.max(initial=0), 0)) + 1)
    loads = _empty_loads(shape)
    if _whole_csr(traffic):      # one compiled pass, no per-entry arrays (every sum exact in any order)
        t = traffic
        w_x, h_y, local, remote, max_hops, rx, ry = _route_csr(t.indptr, t.indices, t.data, tile_x, tile_y, *loads)
        peak, mean = _load_stats(tuple(np.cumsum(m, axis=1) for m in loads))
        return RouteStats(
            hop_weighted_traffic=w_x + h_y, x_hop_traffic=w_x, y_hop_traffic=h_y,
            local_packets=local, remote_packets=remote,
            mean_hops=(w_x + h_y) / remote if remote else 0.0, max_hops=int(max_hops),
            max_link_load=peak, mean_link_load=mean, max_route_x=int(rx), max_route_y=int(ry))
    a, b, w = _entries(traffic)
    dx, dy = np.empty(w.shape[0], np.int32), np.empty(w.shape[0], np.int32)
    _route_flows(a, b, w, tile_x, tile_y, *loads, dx, dy)      # one pass: hops and link differences
    del a, b
    w_x, h_y = float(w @ dx), float(w @ dy)
    hops = dx + dy
    local = float(w[hops == 0].sum())
    remote = float(w[hops > 0].sum())
    peak, mean = _load_stats(tuple(np.cumsum(m, axis=1) for m in loads))
    i = int(np.argmax(hops)) if len(hops) else 0
    return RouteStats(
        hop_weighted_traffic=w_x + h_y, x_hop_traffic=w_x, y_hop_traffic=h_y,
        local_packets=local, remote_packets=remote,
        mean_hops=(w_x + h_y) / remote if remote else 0.0,
        max_hops=int(hops.max(initial=0)),
        max_link_load=peak, mean_link_load=mean,
        max_route_x=int(dx[i]) if len(hops) else 0, max_route_y=int(dy[i]) if len(hops) else 0)


def _load_stats(loads) -> tuple[float, float]:
    """Busiest directed link and the mean over links with traffic (load > 1e-12)."""
    used = np.concatenate([m[m > 1e-12] for m in loads])
    return float(used.max(initial=0.0)), float(used.mean()) if len(used) else 0.0


def link_loads(traffic: sp.spmatrix, tile_x: np.ndarray, tile_y: np.ndarray,
               shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Packets per step on every directed link under XY routing: ``(east, west, north, south)``.

    ``east[y, i]``/``west[y, i]``: link between tiles (i, y) and (i+1, y), shape (ny, nx+1)
    (column nx is always 0); ``north[x, j]``/``south[x, j]``: link between (x, j) and (x, j+1),
    shape (nx, ny+1).
    """
    a, b, w = _entries(traffic)
    loads = _empty_loads(shape)
    _route_flows(a, b, w, np.asarray(tile_x, np.int64), np.asarray(tile_y, np.int64), *loads,
                 np.empty(0, np.int32), np.empty(0, np.int32))
    return tuple(np.cumsum(m, axis=1) for m in loads)


def _empty_loads(shape):
    """Difference arrays over link index (x-link i joins x=i and x=i+1, per row and direction)."""
    nx, ny = shape
    return np.zeros((ny, nx + 1)), np.zeros((ny, nx + 1)), np.zeros((nx, ny + 1)), np.zeros((nx, ny + 1))


@numba.njit(cache=True)
def _route_flows(a, b, w, tx, ty, east, west, north, south, dx, dy):  # pragma: no cover - compiled
    """The difference arrays of :func:`link_loads` for flows core ``a[k]`` -> ``b[k]`` of ``w[k]`` packets,
    added in the order ``np.add.at`` would (every +w of a direction in flow order, then every -w), so
    the loads are bit-identical to it; and each flow's x and y hops into ``dx``/``dy`` (when they have
    room)."""
    n = w.shape[0]
    if dx.shape[0] == n:
        for k in range(n):
            dx[k] = abs(tx[b[k]] - tx[a[k]])
            dy[k] = abs(ty[b[k]] - ty[a[k]])
    for k in range(n):
        if tx[b[k]] > tx[a[k]]:
            east[ty[a[k]], tx[a[k]]] += w[k]
    for k in range(n):
        if tx[b[k]] > tx[a[k]]:
            east[ty[a[k]], tx[b[k]]] -= w[k]
    for k in range(n):
        if tx[b[k]] < tx[a[k]]:
            west[ty[a[k]], tx[b[k]]] += w[k]
    for k in range(n):
        if tx[b[k]] < tx[a[k]]:
            west[ty[a[k]], tx[a[k]]] -= w[k]
    for k in range(n):
        if ty[b[k]] > ty[a[k]]:
            north[tx[b[k]], ty[a[k]]] += w[k]
    for k in range(n):
        if ty[b[k]] > ty[a[k]]:
            north[tx[b[k]], ty[b[k]]] -= w[k]
    for k in range(n):
        if ty[b[k]] < ty[a[k]]:
            south[tx[b[k]], ty[b[k]]] += w[k]
    for k in range(n):
        if ty[b[k]] < ty[a[k]]:
            south[tx[b[k]], ty[a[k]]] -= w[k]


def hop_cost(traffic: sp.spmatrix, tx: np.ndarray, ty: np.ndarray) -> float:
    """Sum over core pairs of packets per step x Manhattan hops between their tiles."""
    if _whole_csr(traffic):       # exact in any order: one compiled pass, no per-entry arrays
        t = traffic
        return float(_hop_sum(t.indptr, t.indices, t.data, np.asarray(tx, np.int64), np.asarray(ty, np.int64)))
    a, b, w = _entries(traffic, positive=False)
    return float(w @ (np.abs(tx[a] - tx[b]) + np.abs(ty[a] - ty[b])))


def _whole_csr(traffic) -> bool:
    """A CSR matrix of whole numbers >= 0 whose sums (with hop factors up to 2**20) stay below 2**53: its sums
    are exact in any order, so a compiled pass gives numpy's floats bit for bit (uniform-rate traffic)."""
    if not sp.isspmatrix_csr(traffic) or traffic.data.dtype != np.float64:
        return False
    d = traffic.data
    if d.size == 0:
        return True
    return bool(d.min() >= 0 and float(d.sum()) < 2.0 ** 33 and all_whole(d))


@numba.njit(cache=True)
def all_whole(x):  # pragma: no cover - compiled
    """Every entry of float array ``x`` a whole number (no temporaries)."""
    for i in range(x.shape[0]):
        if x[i] != np.floor(x[i]):
            return False
    return True


@numba.njit(cache=True)
def _hop_sum(indptr, indices, data, tx, ty):  # pragma: no cover - compiled
    total = 0.0
    for a in range(indptr.shape[0] - 1):
        for k in range(indptr[a], indptr[a + 1]):
            b = indices[k]
            total += data[k] * (abs(tx[a] - tx[b]) + abs(ty[a] - ty[b]))
    return total


@numba.njit(cache=True)
def _route_csr(indptr, indices, data, tx, ty, east, west, north, south):  # pragma: no cover - compiled
    """:func:`route` of a whole-number CSR matrix in one pass over its positive entries: the link difference
    arrays, x and y hop traffic, local and remote packets, and the first longest route's hops (x, y)."""
    w_x = h_y = local = remote = 0.0
    max_hops = rx = ry = 0
    for a in range(indptr.shape[0] - 1):
        xa, ya = tx[a], ty[a]
        for k in range(indptr[a], indptr[a + 1]):
            w = data[k]
            if not w > 0:
                continue
            b = indices[k]
            xb, yb = tx[b], ty[b]
            dx, dy = abs(xb - xa), abs(yb - ya)
            w_x += w * dx
            h_y += w * dy
            if dx + dy == 0:
                local += w
            else:
                remote += w
            if dx + dy > max_hops:
                max_hops, rx, ry = dx + dy, dx, dy
            if xb > xa:
                east[ya, xa] += w
                east[ya, xb] -= w
            elif xb < xa:
                west[ya, xb] += w
                west[ya, xa] -= w
            if yb > ya:
                north[xb, ya] += w
                north[xb, yb] -= w
            elif yb < ya:
                south[xb, yb] += w
                south[xb, ya] -= w
    return w_x, h_y, local, remote, max_hops, rx, ry
