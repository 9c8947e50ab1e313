"""Partition convolutional layers by spatial tiles through the layer stack and channel groups (the ``tiles``
start of the partition).

A convolution's post neuron ``(c, y, x)`` (channel-major, ``(c * H + y) * W + x``) takes its inputs from a small
window of the pre layer around ``(y * s, x * s)``, so the neurons of consecutive conv layers that lie over the same
region of the image exchange nearly all their spikes. :func:`conv_tiling` cuts the image plane into ``nb x nb``
spatial tiles (normalized to each layer's own height and width) and orders the neurons tile by tile: in each
tile every spatial layer (the inputs and outputs of the ``conv``/``pool`` projections), layer by layer, channel by
channel; the neurons of no spatial layer come last, in id order. Cores are filled along that order under every
capacity (:func:`~.packing.pack_order`), so a tile that does not fit one core is cut into channel groups and
consecutive tiles share a core when they fit. It tries every ``nb`` from 1 to the largest layer side and keeps the
partition with the fewest inter-core packets, then cores. The partitioner uses it as a start candidate next to
``sequential`` and ``greedy`` (``partition(..., conv_layers=...)``): ``cpsat`` starts from the best of them and
never returns a worse partition, ``tiles`` returns it as it is.

A tiling per layer (each core one block of channels x rows x columns of one layer, sized to the core limits) was
measured worse on ``examples/conv_snn.py``: 12 240 packets on 36 cores against 7964 on 11 for the default, because
it never puts a pre neuron on the core of its posts (docs/placement.md, *Convolutional layers*).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromap.placement.graph import SynapseGraph
from neuromap.placement.packing import compact, pack_order
from neuromap.targets import Target


@dataclass(frozen=True)
class ConvLayer:
    """One spatial population (a ``conv``/``pool`` projection's pre or post): first global neuron id, (C, H, W)."""

    start: int
    shape: tuple[int, int, int]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def stack_order(n_neurons: int, layers: list[ConvLayer], nb: int) -> np.ndarray:
    """Neuron ids tile by tile (module docstring): ``nb x nb`` tiles, in each every layer of ``layers`` (in the
    given order), channel-major; then the other neurons in id order."""
    big = nb * nb
    tile = np.full(n_neurons, big, np.int64)
    rank = np.full(n_neurons, len(layers), np.int64)
    for r, layer in enumerate(layers):
        c, h, w = layer.shape
        yy, xx = np.meshgrid(np.arange(h) * nb // h, np.arange(w) * nb // w, indexing="ij")
        t = np.tile((yy * nb + xx).reshape(-1), c)
        sl = slice(layer.start, layer.start + layer.size)
        tile[sl], rank[sl] = t, r
    return np.lexsort((np.arange(n_neurons), rank, tile)).astype(np.int64)


def conv_tiling(graph: SynapseGraph, target: Target, layers: list[ConvLayer], rates: np.ndarray,
                objective) -> np.ndarray | None:
    """The best stacked spatial tiling (module docstring) by ``objective(core_of)`` (packets, cores), or None
    without layers."""
    if not layers:
        return None
    layers = sorted(layers, key=lambda g: g.start)
    side = max(max(g.shape[1], g.shape[2]) for g in layers)
    best, best_key = None, None
    for nb in range(1, side + 1):
        core_of = compact(pack_order(graph, target, stack_order(graph.n_neurons, layers, nb)))
        key = (objective(core_of), int(core_of.max(initial=-1)) + 1, nb)
        if best_key is None or key < best_key:
            best, best_key = core_of, key
    return best


__all__ = ["ConvLayer", "conv_tiling", "stack_order"]
