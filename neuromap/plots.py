"""Plots (matplotlib, Agg backend): plain functions over plain arrays, each writing one PNG or SVG.

Every function takes data and an output ``path`` (suffix ``.png`` or ``.svg`` picks the
format), writes the file atomically (temporary file + rename) and returns the path.
``docs/plots.md`` shows what each plot is for.

* :func:`spike_raster` -- spikes of several populations over time.
* :func:`rate_comparison` -- float-reference vs emulator rates per population (identity line).
* :func:`mesh_heatmap` -- cores on the tile mesh and the load of every directed link.
* :func:`core_utilization` -- core resources as % of their limits, per resource and per core.
* :func:`quantization_errors` -- per-synapse relative weight error, one histogram per projection.
* :func:`weight_histograms` -- float vs quantized weights of one projection.
* :func:`weight_evolution` -- weights of a plastic projection over time.
"""
from __future__ import annotations

import os
import tempfile
from typing import Mapping, Sequence

import numpy as np

from neuromap.errors import NeuromapError

FORMATS = (".png", ".svg")


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str | os.PathLike) -> str:
    """Write ``fig`` to ``path`` atomically and close it."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    plt = _plt()
    if ext not in FORMATS:
        plt.close(fig)
        raise NeuromapError(f"{path}: plots are written as .png or .svg (got {ext or 'no suffix'!r})")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=ext)
    os.close(fd)
    try:
        fig.savefig(tmp, format=ext[1:], dpi=120, bbox_inches="tight")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; plots are ordinary files
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def spike_raster(spikes: Mapping[str, tuple[np.ndarray, np.ndarray]], sizes: Mapping[str, int], dt: float,
                 path: str | os.PathLike, title: str = "spikes", max_neurons: int = 200,
                 max_steps: int | None = None) -> str:
    """Raster of ``spikes``: population -> (step int[k], neuron int[k]); ``sizes``: neurons per
    population; ``dt`` in ms (x axis in ms). Populations are stacked bottom-up in the given
    order; at most ``max_neurons`` (the first ones) are drawn per population, and only steps
    below ``max_steps`` (all when None)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    base, ticks, labels = 0, [], []
    for k, (name, (step, idx)) in enumerate(spikes.items()):
        n = int(sizes[name])
        shown = min(n, max_neurons)
        step, idx = np.asarray(step), np.asarray(idx)
        m = (idx < shown) & (step < (np.inf if max_steps is None else max_steps))
        ax.scatter(step[m] * dt, base + idx[m], s=2, marker="|", color=f"C{k % 10}", linewidths=0.8)
        ticks.append(base + shown / 2)
        labels.append(name if shown == n else f"{name} (first {shown})")
        base += shown
        ax.axhline(base - 0.5, color="0.85", lw=0.5)
    ax.set_yticks(ticks, labels)
    ax.set_ylim(-0.5, max(base, 1) - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_title(title)
    return _save(fig, path)


def rate_comparison(float_rates: Mapping[str, float], hw_rates: Mapping[str, float], path: str | os.PathLike,
                    title: str = "float reference vs emulator", labels: tuple[str, str] = ("float (Hz)",
                                                                                       "emulator (Hz)"),
                    size: float = 5.0) -> str:
    """Scatter of the mean rate (Hz) per population: float reference (x) vs emulator (y), with
    the identity line. Populations present in both mappings are plotted and labelled; ``size``: inches."""
    plt = _plt()
    names = [n for n in float_rates if n in hw_rates]
    if not names:
        raise NeuromapError("rate_comparison: no population appears in both rate tables")
    x = np.array([float(float_rates[n]) for n in names])
    y = np.array([float(hw_rates[n]) for n in names])
    fig, ax = plt.subplots(figsize=(size, size))
    hi = float(max(x.max(), y.max(), 1e-9)) * 1.1
    ax.plot([0, hi], [0, hi], color="0.5", lw=1, ls="--", label="identity")
    ax.scatter(x, y, zorder=3)
    for n, a, b in zip(names, x, y):
        ax.annotate(n, (a, b), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    ax.legend(loc="upper left")
    return _save(fig, path)


def mesh_heatmap(tile_x: np.ndarray, tile_y: np.ndarray, east: np.ndarray, west: np.ndarray, north: np.ndarray,
                 south: np.ndarray, path: str | os.PathLike, core_load: np.ndarray | None = None,
                 title: str = "placement and link load", unit: str = "packets/step") -> str:
    """Cores on the tile mesh with the load of every link (as ``neuromap.placement.routing.link_loads``).

    tile_x/tile_y: tile of each core; east/west (ny, nx+1) and north/south (nx, ny+1):
    load per directed link, both directions of a link drawn as one segment coloured by
    their sum; core_load (optional, per core, e.g. spikes) sizes the core markers.
    """
    plt = _plt()
    from matplotlib import cm, colors
    from matplotlib.collections import LineCollection
    tile_x, tile_y = np.asarray(tile_x), np.asarray(tile_y)
    ny, nx = np.asarray(east).shape[0], np.asarray(north).shape[0]
    segs, vals = [], []
    horiz = np.asarray(east) + np.asarray(west)
    vert = np.asarray(north) + np.asarray(south)
    for y in range(ny):
        for i in range(nx - 1):
            segs.append([(i, y), (i + 1, y)])
            vals.append(horiz[y, i])
    for x in range(nx):
        for j in range(ny - 1):
            segs.append([(x, j), (x, j + 1)])
            vals.append(vert[x, j])
    vals = np.asarray(vals, float)
    fig, ax = plt.subplots(figsize=(max(4, nx * 0.9 + 2), max(3.5, ny * 0.9 + 1)))
    norm = colors.Normalize(0, max(float(vals.max(initial=0.0)), 1e-12))
    cmap = plt.colormaps["inferno_r"]
    if segs:
        lc = LineCollection(segs, colors=cmap(norm(vals)), linewidths=2 + 6 * norm(vals), zorder=1)
        ax.add_collection(lc)
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label=f"link load ({unit})")
    # cores: several per tile are spread on a small circle around the tile centre
    counts: dict[tuple[int, int], int] = {}
    px, py = np.zeros(tile_x.size), np.zeros(tile_y.size)
    per_tile = np.zeros(tile_x.size, int)
    for c, (x, y) in enumerate(zip(tile_x.tolist(), tile_y.tolist())):
        per_tile[c] = counts.get((x, y), 0)
        counts[(x, y)] = per_tile[c] + 1
    for c, (x, y) in enumerate(zip(tile_x.tolist(), tile_y.tolist())):
        k = counts[(x, y)]
        ang = 2 * np.pi * per_tile[c] / k
        r = 0.0 if k == 1 else 0.18
        px[c], py[c] = x + r * np.cos(ang), y + r * np.sin(ang)
    size = np.full(tile_x.size, 40.0)
    if core_load is not None and np.size(core_load) == tile_x.size and np.max(core_load) > 0:
        size = 20 + 180 * np.asarray(core_load, float) / float(np.max(core_load))
    ax.scatter(px, py, s=size, color="C0", edgecolor="k", zorder=3, label="core")
    for c in range(tile_x.size):
        ax.annotate(str(c), (px[c], py[c]), ha="center", va="center", fontsize=6, color="w", zorder=4)
    ax.set_xlim(-0.6, nx - 0.4)
    ax.set_ylim(-0.6, ny - 0.4)
    ax.set_aspect("equal")
    ax.set_xlabel("tile x")
    ax.set_ylabel("tile y")
    ax.set_title(title)
    return _save(fig, path)


def core_utilization(per_core: Mapping[str, np.ndarray], summary: Mapping[str, tuple[float, float]],
                     path: str | os.PathLike, title: str = "core utilization") -> str:
    """Core resources as % of their per-core limit. ``summary``: resource -> (median %, max %) over the
    cores (left panel, horizontal bars); ``per_core``: resource -> float[C] % per core (right panel,
    grouped bars per core)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 2]})
    names = list(summary)
    y = np.arange(len(names))
    med = np.array([summary[n][0] for n in names], float)
    mx = np.array([summary[n][1] for n in names], float)
    ax1.barh(y + 0.2, mx, height=0.4, color="C3", label="fullest core")
    ax1.barh(y - 0.2, med, height=0.4, color="C0", label="median core")
    for yy, v in zip(y, mx):
        ax1.annotate(f"{v:.0f}%", (v, yy + 0.2), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax1.set_yticks(y, names)
    ax1.invert_yaxis()
    ax1.axvline(100, color="0.4", ls="--", lw=1)
    ax1.set_xlim(0, max(110.0, float(mx.max(initial=0)) * 1.15))
    ax1.set_xlabel("% of the core's limit")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8, frameon=False)
    ax1.set_title("per resource")
    C = max((np.size(v) for v in per_core.values()), default=0)
    width = 0.8 / max(len(per_core), 1)
    for k, (name, v) in enumerate(per_core.items()):
        ax2.bar(np.arange(C) + (k - (len(per_core) - 1) / 2) * width, v, width=width, label=name, color=f"C{k + 1}")
    ax2.axhline(100, color="0.4", ls="--", lw=1)
    ax2.set_xlabel("core")
    ax2.set_ylabel("% of limit")
    if C <= 40:
        ax2.set_xticks(np.arange(C))
        ax2.tick_params(axis="x", labelsize=7)
    ax2.set_ylim(0, max(105.0, max((float(np.max(v, initial=0)) for v in per_core.values()), default=0) * 1.05))
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(per_core), fontsize=8, frameon=False)
    ax2.set_title(f"per core ({title})")
    fig.tight_layout()
    return _save(fig, path)


def quantization_errors(errors: Mapping[str, np.ndarray], path: str | os.PathLike, bins: int = 40,
                        columns: int = 3) -> str:
    """Small multiples, one per projection: histogram of the per-synapse relative weight error
    ``errors[name]`` (float[n], (quantized - float) / |float|, drawn in %), titled with its rms."""
    plt = _plt()
    names = list(errors)
    if not names:
        raise NeuromapError("quantization_errors: no projection to draw")
    cols = min(columns, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        e = 100.0 * np.asarray(errors[name], float)
        lim = max(float(np.max(np.abs(e), initial=0.0)) * 1.2, 1e-3)
        ax.hist(e, bins=np.linspace(-lim, lim, bins + 1), color="C0")
        ax.axvline(0, color="0.4", lw=0.8)
        rms = float(np.sqrt(np.mean(e ** 2))) if e.size else 0.0
        ax.set_title(f"{name}: rms {rms:.3g}%", fontsize=9)
        ax.set_xlabel("relative error (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def weight_histograms(float_w: np.ndarray, quant_w: np.ndarray, path: str | os.PathLike, name: str = "projection",
                      bins: int = 60, aligned: bool = False) -> str:
    """Histograms of a projection's float weights and its quantized weights (in float units,
    e.g. mantissa / scale), on shared bins. ``aligned``: the arrays hold the same synapses in
    the same order; then the distribution of the per-synapse error is drawn too."""
    plt = _plt()
    f, q = np.asarray(float_w, float).ravel(), np.asarray(quant_w, float).ravel()
    if aligned and f.size != q.size:
        raise NeuromapError(f"weight_histograms: aligned arrays differ in length ({f.size} vs {q.size})")
    aligned = aligned and f.size > 0
    fig, axes = plt.subplots(1, 2 if aligned else 1, figsize=(10 if aligned else 6, 4), squeeze=False)
    ax = axes[0, 0]
    both = np.concatenate([f, q]) if f.size + q.size else np.zeros(1)
    lo, hi = float(both.min()), float(both.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    ax.hist(f, bins=edges, alpha=0.6, label=f"float ({f.size})")
    ax.hist(q, bins=edges, alpha=0.6, label=f"quantized ({q.size})", histtype="stepfilled")
    ax.set_xlabel("weight")
    ax.set_ylabel("synapses")
    ax.set_title(f"{name}: weights")
    ax.legend()
    if aligned:
        err = q - f
        ax2 = axes[0, 1]
        ax2.hist(err, bins=bins, color="C3")
        ax2.set_xlabel("quantized - float")
        ax2.set_title(f"error: rms {np.sqrt(np.mean(err ** 2)):.3g}, max |.| {np.max(np.abs(err)):.3g}")
    return _save(fig, path)


def weight_evolution(times_ms: Sequence[float], weights: np.ndarray, path: str | os.PathLike,
                     name: str = "projection", max_traces: int = 20) -> str:
    """Weights of a plastic projection over time: ``weights`` float[T, n_synapses] sampled at
    ``times_ms`` (T values). Draws the mean, the 5-95 % band and up to ``max_traces``
    individual synapses (evenly spaced indices)."""
    plt = _plt()
    t = np.asarray(times_ms, float)
    w = np.asarray(weights, float)
    if w.ndim != 2 or w.shape[0] != t.size:
        raise NeuromapError(f"weight_evolution: weights have shape {w.shape}, expected ({t.size}, n_synapses)")
    fig, ax = plt.subplots(figsize=(8, 4))
    if w.shape[1]:
        pick = np.unique(np.linspace(0, w.shape[1] - 1, min(max_traces, w.shape[1])).astype(int))
        ax.plot(t, w[:, pick], color="0.7", lw=0.6)
        lo, hi = np.percentile(w, [5, 95], axis=1)
        ax.fill_between(t, lo, hi, color="C0", alpha=0.25, label="5-95 %")
        ax.plot(t, w.mean(axis=1), color="C0", lw=2, label="mean")
        ax.legend(loc="best")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("weight")
    ax.set_title(f"{name}: {w.shape[1]} plastic synapses")
    return _save(fig, path)


__all__ = ["spike_raster", "rate_comparison", "mesh_heatmap", "core_utilization", "quantization_errors",
           "weight_histograms",
           "weight_evolution"]
