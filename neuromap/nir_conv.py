"""NIR convolutions, pooling and scaling -> neuromap's ``conv`` connect rule (shared weights) or explicit synapses.

Called from :mod:`neuromap.nir_io` with two small hooks: ``_trace`` hands every ``Conv1d``, ``Conv2d``,
``SumPool2d``, ``AvgPool2d``, ``Scale`` (and an ``Affine``/``Linear`` after them) on a path between two neuron
nodes to :func:`extend`, which collects them into a :class:`Chain`; ``_add_projections`` asks
:func:`connect_kwargs` for the projection. ``Flatten`` passes through (neuromap's neuron order is NIR's channel-major
``(c, y, x)``). A path whose chain is one convolution (pooling is a depthwise convolution; a ``Scale`` that is one
value per channel and a post-neuron gain that is one value per channel fold into the kernel) becomes ``connect:
{rule: conv, ...}``; anything else (conv followed by pooling, a dense layer after a pool ...) becomes explicit
synapses (``connect: list``) from the composed sparse matrix. Semantics (PyTorch's / NIR's): docs/nir.md,
*Convolutions*; conv bias (one per output channel) is a neuron bias like an Affine's.

Shapes: a chain starts at the source's shape -- an ``Input``'s ``input_type`` shape ``(C, H, W)`` or ``(C, L)``, a
neuron node's parameter arrays when they have that shape, or ``Conv2d.input_shape`` ``(H, W)`` with the kernel's
channels; a pooling node needs one of these (one-line error otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from neuromap.conv_geometry import ConvGeometry, pairs
from neuromap.errors import NetworkFormatError

#: NIR nodes this module imports (nir_io adds them to its supported nodes)
NODES = ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Scale")


@dataclass
class Chain:
    """The linear nodes of one path, in order: ``ops`` of ``("conv", ConvGeometry, kernel)``,
    ``("scale", per-neuron factors)`` and ``("dense", (out, in) matrix)``; ``shape`` (C, H, W) now reached
    (None after a dense op); ``bias`` per output neuron or None; ``names`` of the nodes."""

    in_shape: tuple[int, int, int]
    ops: list = field(default_factory=list)
    cur: tuple[int, int, int] | None = None
    n_out: int = 0
    bias: np.ndarray | None = None
    names: list = field(default_factory=list)

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in), as a weight matrix's."""
        return (self.n_out, self.n_in)

    @property
    def ndim(self) -> int:
        return 2

    def single_conv(self) -> tuple[ConvGeometry, np.ndarray] | None:
        """(geometry, float kernel) when the chain is one convolution with per-channel scales folded in (a pooling
        directly followed by a convolution merges into one, :func:`merge_pool_conv`, when that is exact)."""
        ops = list(self.ops)
        for i in range(len(ops) - 1):
            if ops[i][0] == "conv" and ops[i + 1][0] == "conv":
                merged = merge_pool_conv(ops[i][1], ops[i][2], ops[i + 1][1], ops[i + 1][2])
                if merged is not None:
                    ops[i:i + 2] = [("conv",) + merged]
                    break
        return _single(ops)

    def matrix(self) -> sp.csr_matrix:
        """The composed (out, in) matrix, sparse."""
        m = sp.identity(self.n_in, format="csr", dtype=np.float64)
        for op in self.ops:
            if op[0] == "conv":
                g, k = op[1], op[2]
                pre, post, tap = pairs(g)
                a = sp.csr_matrix((k.reshape(-1)[tap], (post, pre)), shape=(g.n_post, g.n_pre))
            elif op[0] == "scale":
                a = sp.diags(op[1])
            else:
                a = sp.csr_matrix(op[1])
            m = a @ m
        return m.tocsr()


def merge_pool_conv(g1: ConvGeometry, k1: np.ndarray, g2: ConvGeometry, k2: np.ndarray
                    ) -> tuple[ConvGeometry, np.ndarray] | None:
    """One convolution equal to pooling ``g1`` (depthwise, every weight one value v, stride = window, no padding or
    dilation, input sides multiples of the window) followed by convolution ``g2`` (dilation 1): kernel
    ``v * k2`` with every tap spread over an s x s block, stride ``s * s2``, padding ``s * p2``. None otherwise."""
    sy, sx = g1.stride
    if (g1.groups != g1.in_shape[0] or g1.out_channels != g1.in_shape[0] or tuple(g1.kernel_size) != (sy, sx)
            or g1.padding != (0, 0) or g1.dilation != (1, 1) or g1.in_shape[1] % sy or g1.in_shape[2] % sx
            or g2.dilation != (1, 1) or not np.all(k1 == k1.reshape(-1)[0])):
        return None
    v = float(k1.reshape(-1)[0])
    kernel = np.repeat(np.repeat(k2 * v, sy, axis=2), sx, axis=3)
    g = ConvGeometry(g1.in_shape, g2.out_channels, (g2.kernel_size[0] * sy, g2.kernel_size[1] * sx),
                     (g2.stride[0] * sy, g2.stride[1] * sx), (g2.padding[0] * sy, g2.padding[1] * sx), (1, 1),
                     g2.groups)
    return (g, kernel) if g.out_shape == g2.out_shape else None


def _single(ops: list) -> tuple[ConvGeometry, np.ndarray] | None:
    """(geometry, kernel) of ``ops`` when they are one convolution and per-channel scales."""
    convs = [i for i, op in enumerate(ops) if op[0] == "conv"]
    if len(convs) != 1 or any(op[0] == "dense" for op in ops):
        return None
    i = convs[0]
    g, k = ops[i][1], ops[i][2].copy()
    for op in ops[:i]:       # scale of the input: one value per input channel
        s = op[1].reshape(g.in_shape)
        if not np.all(s == s[:, :1, :1]):
            return None
        cig = g.in_shape[0] // g.groups
        ch = s[:, 0, 0]
        for co in range(g.out_channels):
            grp = co // (g.out_channels // g.groups)
            k[co] *= ch[grp * cig:(grp + 1) * cig][:, None, None]
    for op in ops[i + 1:]:   # scale of the output: one value per output channel
        s = op[1].reshape(g.out_shape)
        if not np.all(s == s[:, :1, :1]):
            return None
        k *= s[:, 0, 0][:, None, None, None]
    return g, k


def _pair(v: Any, where: str) -> tuple[int, int]:
    a = np.asarray(v).ravel()
    if a.size == 1:
        return int(a[0]), int(a[0])
    if a.size != 2:
        raise NetworkFormatError(f"{a.tolist()} is not one value or a (y, x) pair", field=where,
                                 fix="give an int or two ints")
    return int(a[0]), int(a[1])


def source_shape(node: Any) -> tuple[tuple[int, int, int] | None, int | None]:
    """(C, H, W) of a source node's neurons when its NIR fields say it (else None), and its neuron count when known."""
    kind = type(node).__name__
    if kind == "Input":
        shp = tuple(int(x) for x in np.asarray(node.input_type["input"]).ravel())
    else:
        arrays = [np.shape(v) for v in vars(node).values() if isinstance(v, np.ndarray) and np.size(v) > 1]
        shp = max(arrays, key=len) if arrays else None
    if shp is None:
        return None, None
    n = int(np.prod(shp))
    if len(shp) == 3:
        return shp, n
    if len(shp) == 2:
        return (shp[0], 1, shp[1]), n
    return None, n


def _padding(node: Any, kernel: tuple[int, int], dilation: tuple[int, int], stride: tuple[int, int], one_d: bool,
             where: str) -> tuple[int, int]:
    p = node.padding
    if isinstance(p, str):
        if p == "valid":
            return (0, 0)
        if p == "same":
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            if any(t % 2 for t in total) or any(s != 1 for s in stride):
                raise NetworkFormatError("padding 'same' with an even kernel (asymmetric padding) or stride > 1",
                                         field=f"{where}.padding", fix="give explicit symmetric padding")
            return (total[0] // 2, total[1] // 2)
        raise NetworkFormatError(f"padding {p!r} is not an int, a pair, 'same' or 'valid'", field=f"{where}.padding",
                                 fix="use explicit padding")
    if one_d:
        return (0, int(np.asarray(p).ravel()[0]))
    return _pair(p, f"{where}.padding")


def extend(chain: Any, node: Any, name: str, src: Any, reached: tuple[int, int, int] | None = None) -> Chain:
    """``chain`` (None at the start of a path, then a :class:`Chain`) followed by NIR node ``node``; ``src`` is the
    path's source node; ``reached``: the (C, H, W) a convolution path into ``src`` gave it (for a neuron node whose
    parameters are scalars, as Norse writes them, and whose NIR types are missing)."""
    kind = type(node).__name__
    src_shape, n_src = source_shape(src) if chain is None else (None, None)
    if chain is None and src_shape is None and reached is not None:
        src_shape = reached
    where = f"nodes.{name}"
    if chain is not None and not isinstance(chain, Chain):
        raise NetworkFormatError(f"{name!r} follows an Affine/Linear node", field=where,
                                 fix="a dense layer may only end a path of convolution nodes")
    if chain is not None:       # paths may branch after any node: each gets its own copy
        chain = Chain(chain.in_shape, list(chain.ops), chain.cur, chain.n_out, chain.bias, list(chain.names))
    if chain is None:
        start = src_shape
        if start is None and kind == "Conv2d" and np.size(node.input_shape) == 2:
            hw = tuple(int(x) for x in np.asarray(node.input_shape).ravel())
            start = (int(node.weight.shape[1]) * int(node.groups),) + hw
        if start is None and kind == "Conv1d" and np.size(node.input_shape) == 1:
            start = (int(node.weight.shape[1]) * int(node.groups), 1, int(np.asarray(node.input_shape).ravel()[0]))
        if start is None and kind == "Scale" and n_src:
            start = (n_src, 1, 1)
        if start is None or (n_src is not None and int(np.prod(start)) != n_src):
            raise NetworkFormatError(f"the {kind} node's input shape is unknown (its source has "
                                     f"{n_src if n_src is not None else 'an unknown number of'} neurons)",
                                     field=where, fix="give the source layer's parameters the (C, H, W) shape, or "
                                     "Conv2d.input_shape")
        chain = Chain(tuple(start), cur=tuple(start), n_out=int(np.prod(start)))
    if chain.cur is None and kind != "Scale":
        raise NetworkFormatError(f"{kind} {name!r} follows a dense layer", field=where,
                                 fix="convolutions and pooling come before the dense layer")
    chain.names.append(name)
    cur = chain.cur
    if kind in ("Conv1d", "Conv2d"):
        one_d = kind == "Conv1d"
        w = np.asarray(node.weight, np.float64)
        if w.ndim != (3 if one_d else 4):
            raise NetworkFormatError(f"weight has shape {list(w.shape)}", field=f"{where}.weight",
                                     fix=f"{kind} weights are (out, in/groups, {'k' if one_d else 'kh, kw'})")
        if one_d:
            w = w[:, :, None, :]
            stride, dil = (1, int(np.asarray(node.stride).ravel()[0])), (1, int(np.asarray(node.dilation).ravel()[0]))
        else:
            stride, dil = _pair(node.stride, f"{where}.stride"), _pair(node.dilation, f"{where}.dilation")
        pad = _padding(node, w.shape[2:], dil, stride, one_d, where)
        g = ConvGeometry(tuple(cur), int(w.shape[0]), (int(w.shape[2]), int(w.shape[3])), stride, pad, dil,
                         int(node.groups))
        bad = g.problem() or (None if w.shape[1] * g.groups == cur[0] else
                              f"the kernel takes {w.shape[1] * g.groups} channels, the input has {cur[0]}")
        if bad:
            raise NetworkFormatError(bad, field=where, fix="check the layer shapes, stride, padding and groups")
        chain.ops.append(("conv", g, w))
        b = np.asarray(node.bias, np.float64).ravel()
        if b.size and np.any(b != 0):
            full = np.repeat(np.broadcast_to(b, (g.out_channels,)), g.out_shape[1] * g.out_shape[2])
            chain.bias = full if chain.bias is None else full + _through(chain, chain.bias, g)
        elif chain.bias is not None:
            chain.bias = _through(chain, chain.bias, g)
        chain.cur = g.out_shape
    elif kind in ("SumPool2d", "AvgPool2d"):
        k = _pair(node.kernel_size, f"{where}.kernel_size")
        s = _pair(node.stride, f"{where}.stride")
        p = _pair(node.padding, f"{where}.padding")
        c = cur[0]
        g = ConvGeometry(tuple(cur), c, k, s, p, (1, 1), c)
        bad = g.problem()
        if bad:
            raise NetworkFormatError(bad, field=where, fix="check the pooling window, stride and padding")
        val = 1.0 if kind == "SumPool2d" else 1.0 / (k[0] * k[1])   # AvgPool: PyTorch's count_include_pad
        chain.ops.append(("conv", g, np.full((c, 1) + k, val)))
        if chain.bias is not None:
            chain.bias = _through(chain, chain.bias, g)
        chain.cur = g.out_shape
    elif kind == "Scale":
        n = chain.n_out if cur is None else int(np.prod(cur))
        s = np.asarray(node.scale, np.float64)
        try:
            s = np.broadcast_to(s.reshape(s.shape if s.ndim != 1 or cur is None else (-1, 1, 1) if s.size == cur[0]
                                          else s.shape), cur if cur is not None else (n,)).reshape(-1)
        except ValueError:
            raise NetworkFormatError(f"scale of shape {list(np.shape(node.scale))} does not fit {n} neurons",
                                     field=f"{where}.scale", fix="one value, one per channel or one per neuron"
                                     ) from None
        chain.ops.append(("scale", s.astype(np.float64)))
        if chain.bias is not None:
            chain.bias = chain.bias * s
    else:  # Affine / Linear ends the chain
        w = np.asarray(node.weight, np.float64)
        n = int(np.prod(cur))
        if w.ndim != 2 or w.shape[1] != n:
            raise NetworkFormatError(f"weight has shape {list(w.shape)}, the layer before has {n} neurons",
                                     field=f"{where}.weight", fix="weights are (out, in)")
        chain.ops.append(("dense", w))
        b = np.asarray(getattr(node, "bias", np.zeros(0)), np.float64).ravel()
        bias = (w @ chain.bias) if chain.bias is not None else None
        if b.size:
            bias = np.broadcast_to(b, (w.shape[0],)) + (0.0 if bias is None else bias)
        chain.bias = bias
        chain.cur = None
        chain.n_out = int(w.shape[0])
        return chain
    chain.n_out = int(np.prod(chain.cur))
    return chain


def _through(chain: Chain, bias: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """A constant input ``bias`` (per neuron of the layer before) seen through convolution ``g`` (the last op)."""
    pre, post, tap = pairs(g)
    k = chain.ops[-1][2].reshape(-1)
    out = np.zeros(g.n_post)
    np.add.at(out, post, k[tap] * bias[pre])
    return out


def connect_kwargs(chain: Chain, gain: np.ndarray, delays) -> dict[str, Any]:
    """``Network.connect`` keywords (``connect``, ``weight``, ``delay``) of a path through ``chain`` onto post neurons
    with per-neuron ``gain`` (neuromap weight per NIR weight); ``delays(pre, post)`` gives per-synapse delays."""
    one = chain.single_conv()
    if one is not None:
        g, k = one
        plane = g.out_shape[1] * g.out_shape[2]
        per_ch = gain.reshape(g.out_channels, plane)
        if np.all(per_ch == per_ch[:, :1]):
            pre, post, _ = pairs(g)
            d = delays(pre, post)
            kernel = k * per_ch[:, 0][:, None, None, None]
            spec = {"rule": "conv", "in_shape": list(g.in_shape), "kernel": kernel, "stride": list(g.stride),
                    "padding": list(g.padding), "dilation": list(g.dilation), "groups": g.groups}
            return {"connect": spec, "delay": int(d[0]) if d.size and np.all(d == d[0]) else d}
    m = chain.matrix().tocoo()
    order = np.lexsort((m.col, m.row))           # post-major
    post, pre, w = m.row[order].astype(np.int64), m.col[order].astype(np.int64), m.data[order]
    keep = w != 0
    post, pre, w = post[keep], pre[keep], w[keep]
    return {"connect": {"rule": "list", "pre": pre, "post": post}, "weight": w * gain[post],
            "delay": delays(pre, post)}
