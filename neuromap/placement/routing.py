"""XY (dimension-order) routing on the board's tile mesh: per-link loads and hop statistics.

A packet from tile (ax, ay) to (bx, by) first moves along x (east-west links) in row
ay, then along y (north-south links) in column bx. Packets between cores of one tile
take 0 hops. Loads are packets per step per directed link.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


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


def route(traffic: sp.spmatrix, tile_x: np.ndarray, tile_y: np.ndarray,
          shape: tuple[int, int] | None = None) -> RouteStats:
    """Route every nonzero traffic[a, b] from core a's tile to core b's tile with XY routing."""
    t = sp.coo_matrix(traffic)
    keep = t.data > 0
    a, b, w = t.row[keep], t.col[keep], t.data[keep].astype(float)
    ax, ay, bx, by = tile_x[a], tile_y[a], tile_x[b], tile_y[b]
    dx, dy = np.abs(bx - ax), np.abs(by - ay)
    hops = dx + dy
    w_x, h_y = float(w @ dx), float(w @ dy)
    local = float(w[hops == 0].sum())
    remote = float(w[hops > 0].sum())
    if shape is None:
        shape = (int(max(tile_x.max(initial=0), 0)) + 1, int(max(tile_y.max(initial=0), 0)) + 1)
    east, west, north, south = link_loads(traffic, tile_x, tile_y, shape)
    loads = np.concatenate([m.ravel() for m in (east, west, north, south)])
    used = loads[loads > 1e-12]
    i = int(np.argmax(hops)) if len(hops) else 0
    return RouteStats(
        hop_weighted_traffic=w_x + h_y, x_hop_traffic=w_x, y_hop_traffic=h_y,
        local_packets=local, remote_packets=remote,
        mean_hops=(w_x + h_y) / remote if remote else 0.0,
        max_hops=int(hops.max(initial=0)),
        max_link_load=float(used.max(initial=0.0)), mean_link_load=float(used.mean()) if len(used) else 0.0,
        max_route_x=int(dx[i]) if len(hops) else 0, max_route_y=int(dy[i]) if len(hops) else 0)


def link_loads(traffic: sp.spmatrix, tile_x: np.ndarray, tile_y: np.ndarray,
               shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Packets per step on every directed link under XY routing: ``(east, west, north, south)``.

    ``east[y, i]``/``west[y, i]``: link between tiles (i, y) and (i+1, y), shape (ny, nx+1)
    (column nx is always 0); ``north[x, j]``/``south[x, j]``: link between (x, j) and (x, j+1),
    shape (nx, ny+1).
    """
    t = sp.coo_matrix(traffic)
    keep = t.data > 0
    a, b, w = t.row[keep], t.col[keep], t.data[keep].astype(float)
    ax, ay, bx, by = tile_x[a], tile_y[a], tile_x[b], tile_y[b]
    nx, ny = shape
    # difference arrays over link index: x-link i joins x=i and x=i+1 (per row, per direction)
    east = np.zeros((ny, nx + 1))
    west = np.zeros((ny, nx + 1))
    north = np.zeros((nx, ny + 1))
    south = np.zeros((nx, ny + 1))
    lo, hi = np.minimum(ax, bx), np.maximum(ax, bx)
    e = bx > ax
    np.add.at(east, (ay[e], lo[e]), w[e])
    np.add.at(east, (ay[e], hi[e]), -w[e])
    wv = bx < ax
    np.add.at(west, (ay[wv], lo[wv]), w[wv])
    np.add.at(west, (ay[wv], hi[wv]), -w[wv])
    lo, hi = np.minimum(ay, by), np.maximum(ay, by)
    n_ = by > ay
    np.add.at(north, (bx[n_], lo[n_]), w[n_])
    np.add.at(north, (bx[n_], hi[n_]), -w[n_])
    s_ = by < ay
    np.add.at(south, (bx[s_], lo[s_]), w[s_])
    np.add.at(south, (bx[s_], hi[s_]), -w[s_])
    return tuple(np.cumsum(m, axis=1) for m in (east, west, north, south))


def hop_cost(traffic: sp.spmatrix, tx: np.ndarray, ty: np.ndarray) -> float:
    """Sum over core pairs of packets per step x Manhattan hops between their tiles."""
    t = sp.coo_matrix(traffic)
    return float(t.data @ (np.abs(tx[t.row] - tx[t.col]) + np.abs(ty[t.row] - ty[t.col])))
