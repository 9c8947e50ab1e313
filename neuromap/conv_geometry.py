"""Convolutions with shared weights: geometry, the image's ``conv`` section, its expansion and its memory.

Contract layer (numpy, :mod:`neuromap.errors`, :mod:`neuromap.capacity`, :mod:`neuromap.core_kinds` only). One
convolution (Conv1d/Conv2d with stride, padding, dilation and groups; sum/average pooling is a depthwise one) maps a
population of ``C * H * W`` neurons, flattened channel-major (``(c * H + y) * W + x``, PyTorch's and NIR's
``Flatten`` order), onto one of ``C_out * H_out * W_out`` neurons:

    post (co, oy, ox) += kernel[co, ci - g * C_in/groups, ky, kx] * pre (ci, oy*sy - py + ky*dy, ox*sx - px + kx*dx)

for every group ``g = co // (C_out/groups)``, input channel ``ci`` of that group and kernel tap whose input position
lies inside the input (zero padding: taps in the padding have no synapse). ``H = 1``, ``kh = 1`` is Conv1d.

The image stores a convolutional projection compactly (:class:`ConvMap`, manifest ``conv``, arrays
``conv.<i>.kernel``): kernel + geometry + delay. Its axons (one per (core, source), with their routes) stay in the
image as for any projection, but own no explicit synapses; :func:`expand` writes them where a runtime needs explicit
synapses (the emulator's program preparation, the Lava backend's Sparse/Dense plan), in the order the compiler's
lowering gives explicit synapses (per axon, by post), so ``expand(compact(image)) == image``.

Synapse memory (:func:`shared_memory_bits`, the shared-kernel model of docs/image-format.md, *Convolutions*): per core,
the kernel slice of the output channels the core holds, once (``weight_bits`` each, whole words), plus one
``word_bits`` population-axon word per input axon (kernel offset and base compartment), instead of one
``weight + delay + index`` entry per synapse.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromap.capacity import CoreLimits, image_usage, smallest_at_least
from neuromap.core_kinds.loihi_lif import weight_problem
from neuromap.errors import ImageError


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes and hyper-parameters of one convolution. ``in_shape`` = (C, H, W); ``kernel_size`` = (kh, kw);
    ``stride``, ``padding``, ``dilation`` = (y, x) pairs; ``groups`` divides C and ``out_channels``."""

    in_shape: tuple[int, int, int]
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    @property
    def out_shape(self) -> tuple[int, int, int]:
        (_, h, w), (kh, kw) = self.in_shape, self.kernel_size
        oh = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return (self.out_channels, oh, ow)

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """(C_out, C_in / groups, kh, kw): PyTorch's weight layout."""
        return (self.out_channels, self.in_shape[0] // self.groups) + tuple(self.kernel_size)

    @property
    def n_pre(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_post(self) -> int:
        return int(np.prod(self.out_shape))

    def problem(self) -> str | None:
        """Why these numbers are not a convolution (one phrase), or None."""
        c, h, w = self.in_shape
        if min(c, h, w, self.out_channels, *self.kernel_size) < 1:
            return "shapes and kernel sizes must be >= 1"
        if min(*self.stride, *self.dilation) < 1 or min(self.padding) < 0:
            return "stride and dilation must be >= 1 and padding >= 0"
        if self.groups < 1 or c % self.groups or self.out_channels % self.groups:
            return f"groups {self.groups} must divide the input channels {c} and output channels {self.out_channels}"
        if min(self.out_shape[1:]) < 1:
            return f"the dilated kernel {self.kernel_size} does not fit the padded input {self.in_shape[1:]}"
        return None

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "ConvGeometry":
        """The inverse of :meth:`to_dict` (``out_shape`` gives the output channels; its sizes are derived)."""
        return ConvGeometry(tuple(int(x) for x in d["in_shape"]), int(d["out_shape"][0]),
                            tuple(int(x) for x in d["kernel_size"]), tuple(int(x) for x in d["stride"]),
                            tuple(int(x) for x in d["padding"]), tuple(int(x) for x in d["dilation"]),
                            int(d["groups"]))

    def to_dict(self) -> dict[str, Any]:
        return {"in_shape": list(self.in_shape), "out_shape": list(self.out_shape),
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups}


def pairs(g: ConvGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every synapse of the convolution as int64 arrays ``(pre, post, tap)``, post-major with pre ascending
    (the network's synapse order); ``tap`` indexes the flattened kernel (``kernel_shape``, C order)."""
    c_in, h, w = g.in_shape
    c_out, oh, ow = g.out_shape
    _, cig, kh, kw = g.kernel_shape
    cog = c_out // g.groups
    co, oy, ox = (a.reshape(-1, 1) for a in np.meshgrid(np.arange(c_out), np.arange(oh), np.arange(ow),
                                                         indexing="ij"))
    cil, ky, kx = (a.reshape(1, -1) for a in np.meshgrid(np.arange(cig), np.arange(kh), np.arange(kw),
                                                          indexing="ij"))
    iy = oy * g.stride[0] - g.padding[0] + ky * g.dilation[0]
    ix = ox * g.stride[1] - g.padding[1] + kx * g.dilation[1]
    ci = (co // cog) * cig + cil
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    shape = ok.shape
    pre = np.broadcast_to((ci * h + iy) * w + ix, shape)[ok]
    post = np.broadcast_to((co * oh + oy) * ow + ox, shape)[ok]
    tap = np.broadcast_to(((co * cig + cil) * kh + ky) * kw + kx, shape)[ok]
    return pre.astype(np.int64), post.astype(np.int64), tap.astype(np.int64)


def from_pre(g: ConvGeometry, pre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The synapses leaving the pre neurons ``pre`` (int64): ``(row, post, tap)`` where ``row`` indexes ``pre``;
    sorted by row, then post ascending."""
    c_in, h, w = g.in_shape
    c_out, oh, ow = g.out_shape
    _, cig, kh, kw = g.kernel_shape
    cog = c_out // g.groups
    pre = np.asarray(pre, np.int64)
    ci, iy, ix = (pre // (h * w)).reshape(-1, 1), (pre // w % h).reshape(-1, 1), (pre % w).reshape(-1, 1)
    j, ky, kx = (a.reshape(1, -1) for a in np.meshgrid(np.arange(cog), np.arange(kh), np.arange(kw), indexing="ij"))
    co = (ci // cig) * cog + j
    ny = iy + g.padding[0] - ky * g.dilation[0]
    nx = ix + g.padding[1] - kx * g.dilation[1]
    oy, ox = ny // g.stride[0], nx // g.stride[1]
    ok = (ny >= 0) & (nx >= 0) & (ny % g.stride[0] == 0) & (nx % g.stride[1] == 0) & (oy < oh) & (ox < ow)
    shape = ok.shape
    row = np.broadcast_to(np.arange(pre.size, dtype=np.int64).reshape(-1, 1), shape)[ok]
    post = np.broadcast_to((co * oh + oy) * ow + ox, shape)[ok]
    tap = np.broadcast_to(((co * cig + ci % cig) * kh + ky) * kw + kx, shape)[ok]
    order = np.lexsort((post, row))
    return row[order], post[order].astype(np.int64), tap[order].astype(np.int64)


# ------------------------------------------------------------------------------------ the image section

@dataclass
class ConvMap:
    """The ``conv`` section entry of one convolutional projection of an image (docs/image-format.md).

    ``projection``: index into the image's projections; ``kernel``: int16 stored weights, flattened
    ``kernel_shape`` (C order), encoded like ``synapses.weight`` with the projection's sign mode and weight bits;
    ``delay``: the synaptic delay of every synapse (1..64)."""

    projection: int
    geometry: ConvGeometry
    kernel: np.ndarray
    delay: int = 1

    def manifest(self) -> dict[str, Any]:
        return {"projection": int(self.projection), **self.geometry.to_dict(), "delay": int(self.delay)}

    @staticmethod
    def from_manifest(d: dict[str, Any], kernel: np.ndarray) -> "ConvMap":
        for key, n in (("in_shape", 3), ("out_shape", 3), ("kernel_size", 2), ("stride", 2), ("padding", 2),
                       ("dilation", 2)):
            if len(d[key]) != n:
                raise ImageError(f"image conv of projection {d['projection']}: {key} must have {n} entries "
                                 "(recompile)")
        g = ConvGeometry.from_dict(d)
        if tuple(d["out_shape"]) != g.out_shape:
            raise ImageError(f"image conv of projection {d['projection']}: out_shape {list(d['out_shape'])} "
                             f"differs from the geometry's {list(g.out_shape)} (recompile)")
        return ConvMap(int(d["projection"]), g, kernel, int(d["delay"]))


def verify(image: Any) -> None:
    """The ``conv`` section against the rest of the image: one entry per projection at most, the projection static,
    its populations of the geometry's sizes, the kernel's dtype, length and stored-weight encoding, the delay, and no
    explicit synapse on the projection's axons. One-line :class:`ImageError`."""
    seen = set()
    proj_syn = np.bincount(image.axons["proj"], weights=np.diff(image.axons["syn_ptr"]),
                           minlength=len(image.projections)) if image.n_axons else np.zeros(len(image.projections))
    for i, cm in enumerate(image.convs):
        where = f"image conv {i}"
        if not isinstance(cm.projection, int) or not 0 <= cm.projection < len(image.projections):
            raise ImageError(f"{where}: projection {cm.projection!r} is not a projection index")
        if cm.projection in seen:
            raise ImageError(f"{where}: projection {cm.projection} has two conv entries")
        seen.add(cm.projection)
        pm = image.projections[cm.projection]
        where = f"image conv {i} (projection {pm.name})"
        g = cm.geometry
        bad = g.problem()
        if bad:
            raise ImageError(f"{where}: {bad}")
        if pm.learning is not None:
            raise ImageError(f"{where}: a plastic projection cannot share weights (recompile)")
        pre, post = image.population(pm.pre), image.population(pm.post)
        if pre.size != g.n_pre or post.size != g.n_post or post.kind != "neuron":
            raise ImageError(f"{where}: populations {pm.pre} ({pre.size}) -> {pm.post} ({post.size}) do not match "
                             f"in_shape {list(g.in_shape)} -> out_shape {list(g.out_shape)}")
        k = cm.kernel
        if not isinstance(k, np.ndarray) or k.dtype != np.int16 or k.shape != (int(np.prod(g.kernel_shape)),):
            raise ImageError(f"{where}: conv.{i}.kernel must be 1-d int16 of length {int(np.prod(g.kernel_shape))}")
        bad = weight_problem(pm.sign_mode, pm.num_weight_bits, k.astype(np.int64))
        if bad:
            raise ImageError(f"{where}: conv.{i}.kernel: {bad}")
        if not 1 <= cm.delay <= 64:
            raise ImageError(f"{where}: delay {cm.delay} is outside 1..64")
        if proj_syn[cm.projection]:
            raise ImageError(f"{where}: its axons own {int(proj_syn[cm.projection])} explicit synapses "
                             "(a conv projection's synapses are the kernel's; recompile)")


def axon_sources(image: Any) -> np.ndarray:
    """The source id of every axon (the route entry that names it; -1 if none)."""
    rt = image.routes
    src = np.full(image.n_axons, -1, np.int64)
    route_src = np.repeat(np.arange(rt["src_ptr"].shape[0] - 1, dtype=np.int64), np.diff(rt["src_ptr"]))
    src[image.cores["axon_ptr"][rt["core"]] + rt["axon"]] = route_src
    return src


def _source_base(image: Any, pop_name: str) -> int:
    p = image.population(pop_name)
    return p.start + (0 if p.kind == "neuron" else image.n_neurons)


def conv_synapses(image: Any, cm: ConvMap, axon_src: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The explicit synapses of one conv entry: ``(axon, post, weight, delay)`` (global axon ids and neurons), per
    axon by post ascending; only posts on the axon's core."""
    pm = image.projections[cm.projection]
    axon_src = axon_sources(image) if axon_src is None else axon_src
    ax = np.flatnonzero(image.axons["proj"] == cm.projection)
    core_of_ax = np.searchsorted(image.cores["axon_ptr"], ax, side="right") - 1
    pre_local = axon_src[ax] - _source_base(image, pm.pre)
    row, post_local, tap = from_pre(cm.geometry, pre_local)
    post = post_local + image.population(pm.post).start
    keep = image.neurons["core"][post] == core_of_ax[row]
    row, post, tap = row[keep], post[keep], tap[keep]
    return (ax[row].astype(np.int64), post, cm.kernel[tap].astype(np.int16),
            np.full(row.size, cm.delay, np.uint8))


def expand(image: Any) -> Any:
    """``image`` with every conv projection's synapses written out explicitly (and no ``conv`` section); an image
    without convolutions is returned as is. The runtimes call it where the hardware model needs explicit synapses
    (:func:`emulator.program.prepare`, the Lava plan)."""
    convs = getattr(image, "convs", None)
    if not convs:
        return image
    axon_src = axon_sources(image)
    parts = [conv_synapses(image, cm, axon_src) for cm in convs]
    ptr = image.axons["syn_ptr"].astype(np.int64)
    A = image.n_axons
    old_n = np.diff(ptr)
    new_ax = np.concatenate([p[0] for p in parts])
    new_n = old_n + np.bincount(new_ax, minlength=A)
    new_ptr = np.zeros(A + 1, np.int64)
    np.cumsum(new_n, out=new_ptr[1:])
    S = int(new_ptr[-1])
    # explicit synapses keep their order at the start of their axon's run; conv axons own none of them
    old_ax = np.repeat(np.arange(A, dtype=np.int64), old_n)
    dest_old = new_ptr[old_ax] + (np.arange(old_ax.size, dtype=np.int64) - ptr[old_ax])
    rank = np.arange(new_ax.size, dtype=np.int64)
    order = np.argsort(new_ax, kind="stable")      # parts are per axon by post; axons of different convs differ
    sorted_ax = new_ax[order]
    first = np.searchsorted(sorted_ax, sorted_ax, side="left")
    dest_new = np.empty(new_ax.size, np.int64)
    dest_new[order] = new_ptr[sorted_ax] + old_n[sorted_ax] + (rank - first)
    syn = {}
    for key, dt, j in (("post", np.int32, 1), ("weight", np.int16, 2), ("delay", np.uint8, 3)):
        out = np.empty(S, dt)
        out[dest_old] = image.synapses[key]
        out[dest_new] = np.concatenate([p[j] for p in parts]).astype(dt)
        syn[key] = out
    return dataclasses.replace(image, synapses=syn, axons={**image.axons, "syn_ptr": new_ptr}, convs=[])


# ------------------------------------------------------------------------------------ synapse memory

def shared_memory_bits(image: Any, limits: CoreLimits, population_axons: bool = True) -> np.ndarray:
    """Per core: synapse-memory bits of the conv projections in the shared-kernel model (module docstring): the
    kernel slice of every (core, conv) with the output channels on the core, rounded up to whole words, plus one
    ``word_bits`` entry (kernel offset, base compartment) per population axon -- one per (core, input pixel), the
    input channel being the axon's atom -- or, with ``population_axons=False``, per discrete input axon (one per
    (core, source), as the image's routes are). Zeros without convolutions or when the target does not count
    synapse memory."""
    C = image.n_cores
    bits = np.zeros(C, np.int64)
    if not getattr(image, "convs", None) or not limits.counts_memory:
        return bits
    word = int(limits.word_bits)
    src = axon_sources(image)
    axon_core = np.repeat(np.arange(C, dtype=np.int64), np.diff(image.cores["axon_ptr"]))
    for cm in image.convs:
        pm = image.projections[cm.projection]
        g = cm.geometry
        wb = int(smallest_at_least(limits.weight_bits, np.array([pm.num_weight_bits]))[0])
        per_channel = int(np.prod(g.kernel_shape[1:]))
        post = image.population(pm.post)
        plane = g.out_shape[1] * g.out_shape[2]
        co = np.arange(post.size, dtype=np.int64) // plane
        cores = image.neurons["core"][post.start:post.start + post.size].astype(np.int64)
        pairs_ = np.unique(cores * g.out_channels + co)          # (core, output channel) present
        n_ch = np.bincount(pairs_ // g.out_channels, minlength=C)
        bits += -(-(n_ch * per_channel * wb) // word) * word
        ax = np.flatnonzero(image.axons["proj"] == cm.projection)
        if population_axons:       # one entry per (core, input pixel): the input channel is the atom
            plane_in = g.in_shape[1] * g.in_shape[2]
            pix = (src[ax] - _source_base(image, pm.pre)) % plane_in
            key = np.unique(axon_core[ax] * plane_in + pix)
            bits += np.bincount(key // plane_in, minlength=C) * word
        else:
            bits += np.bincount(axon_core[ax], minlength=C) * word
    return bits


def memory_report(image: Any) -> dict[str, Any] | None:
    """Synapse memory of an image with convolutions, shared vs the same image with explicit synapses
    (:func:`expand`), in the target's memory model: totals, their ratio and one row per conv projection
    (synapses, input axons, population axons = distinct (core, input pixel) pairs, i.e. channels sharing an axon).
    None without convolutions or when the image records no synapse-memory model."""
    if not getattr(image, "convs", None):
        return None
    limits = CoreLimits.from_constants(image.constants)
    if limits is None or not limits.counts_memory:
        return None
    shared = image_usage(image, limits).memory_bits
    discrete = shared - shared_memory_bits(image, limits) + shared_memory_bits(image, limits, population_axons=False)
    explicit_img = expand(image)
    explicit = image_usage(explicit_img, limits).memory_bits
    axon_src = axon_sources(image)
    axon_core = np.repeat(np.arange(image.n_cores, dtype=np.int64), np.diff(image.cores["axon_ptr"]))
    rows = []
    for cm in image.convs:
        pm = image.projections[cm.projection]
        g = cm.geometry
        ax = np.flatnonzero(image.axons["proj"] == cm.projection)
        pix = (axon_src[ax] - _source_base(image, pm.pre)) % (g.in_shape[1] * g.in_shape[2])
        n_syn = int(conv_synapses(image, cm, axon_src)[0].size)
        post = image.population(pm.post)
        oc = image.neurons["core"][post.start:post.start + post.size].astype(np.int64)
        plane = g.out_shape[1] * g.out_shape[2]
        j = np.arange(post.size, dtype=np.int64)
        cores = np.unique(oc)
        ch = np.array([np.unique(j[oc == c] // plane).size for c in cores])
        px = np.array([np.unique(j[oc == c] % plane).size for c in cores])
        rows.append({"projection": pm.name, **g.to_dict(), "kernel_weights": int(cm.kernel.size),
                     "synapses": n_syn, "input_axons": int(ax.size), "cores": int(cores.size),
                     "channels_per_core": [int(ch.min()), int(ch.max())],
                     "pixels_per_core": [int(px.min()), int(px.max())],
                     "population_axons": int(np.unique(axon_core[ax] * g.in_shape[1] * g.in_shape[2] + pix).size)})
    tot_s, tot_e = int(shared.sum()), int(explicit.sum())
    tot_d = int(discrete.sum())
    return {"synapse_memory_bits": tot_s, "explicit_synapse_memory_bits": tot_e,
            "ratio": tot_e / tot_s if tot_s else None, "max_core_bits": int(shared.max(initial=0)),
            "explicit_max_core_bits": int(explicit.max(initial=0)),
            "discrete_axon_synapse_memory_bits": tot_d, "discrete_axon_ratio": tot_e / tot_d if tot_d else None,
            "conv": rows}


def memory_line(rep: dict[str, Any]) -> str:
    """One line of a :func:`memory_report` (``compile`` and ``inspect`` print it)."""
    n_syn = sum(r["synapses"] for r in rep["conv"])
    n_k = sum(r["kernel_weights"] for r in rep["conv"])
    return (f"shared weights: {len(rep['conv'])} conv projection(s), {n_syn} synapses from {n_k} kernel weights; "
            f"synapse memory {rep['synapse_memory_bits']} bits vs {rep['explicit_synapse_memory_bits']} explicit "
            f"({rep['ratio']:.1f}x less; {rep['discrete_axon_ratio']:.1f}x with one word per discrete axon)")
