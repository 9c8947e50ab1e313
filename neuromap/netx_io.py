"""lava-dl netx HDF5 import: :func:`read_netx` (a SLAYER-trained network, no torch needed; ``docs/nir.md``,
*lava-dl netx HDF5*).

A netx file (``lava.lib.dl.netx.hdf5``, the format SLAYER's ``export_hdf5`` writes) holds a group ``layer``
with one group per block, ``"0"``, ``"1"``, ... in order, each with a ``type`` string, a ``shape``, and for
neuron blocks a ``neuron`` group (``type``, ``iDecay``, ``vDecay``, ``vThMant``, ``refDelay``, optional
``gradedSpike`` / ``messageBits``), ``weight`` (dense: (out, in)), optional ``bias`` and ``delay``.
netx turns every CUBA/LOIHI block into Lava's fixed-point ``LIF`` plus ``Dense``; neuromap reads the same
numbers into a hardware-unit (``loihi_lif``) network with the same conventions, so the compiled image runs
what netx would run:

* neuron: ``du = iDecay - 1`` (Lava's LIF adds its ``ds_offset`` 1 back), ``dv = vDecay``, ``vth = vThMant``,
  ``bias_mant = bias`` with ``bias_exp = 6``; ``refDelay`` is not used by netx's LIF (nor here);
* weights and biases are read as integers truncated toward zero (netx's ``NetDict``), then
  :func:`lava_dl_weight_bits` chooses ``weight_exp``, ``num_weight_bits`` and ``sign_mode`` and shifts the
  weights as netx's ``optimize_weight_bits`` does (the stored weight is then clipped and truncated by the
  image's encoder exactly as Lava's ``Dense`` does);
* ``dense_rec`` blocks: the feed-forward and recurrent matrices share one weight format (concatenated);
* ``delay`` (netx ``DelayDense``: Lava delay d) is image delay d + 1, clamped to 62 as netx does;
* an ``input`` block encodes data through its neurons' bias in netx; here it is the network's input
  population (``inputs``: Poisson or spike times, the spikes the input layer would emit), neuron i = position
  i of the C-order flattened ``shape``, the order of the next dense block's weight columns (netx's flatten);
* ``conv`` blocks (netx ``create_conv``: Lava's ``Conv`` process, which takes the kernel as stored, without
  ``optimize_weight_bits``, and sums it exactly) become a ``conv`` projection (shared weights): HDF5 ``shape`` is
  (C, H, W), ``weight`` (C_out, C_in/groups, kh, kw[, 1]) is PyTorch's cross-correlation kernel (netx flips both
  spatial axes for Lava's true convolution and transposes to (C_out, W, H, C_in)), ``stride``/``padding``/
  ``dilation`` are (y, x) pairs or scalars, ``groups`` a scalar; ``bias`` is per output channel (or per neuron);
  :func:`conv_weight_format` picks the synapse format that holds the kernel exactly. netx ignores a conv block's
  ``delay`` (so does this reader, with a warning).

Blocks netx itself cannot run (``pool``, ``convT``, ``unpool``, ``average``, ``concat``: ``NotImplementedError`` in
lava-dl's ``hdf5.Network``) and those neuromap cannot (complex dense, sigma-delta and resonate-and-fire neurons,
graded spikes) are refused in one line naming the block.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from neuromap.conv_geometry import ConvGeometry
from neuromap.errors import NetworkFormatError
from neuromap.image_files import open_regular
from neuromap.network import Network

#: largest netx file read
MAX_NETX_BYTES = 2 * 2 ** 30
#: neuron types netx maps onto Lava's LIF
LIF_TYPES = ("CUBA", "LOIHI")
#: Lava's DelayDense delay limit that netx clamps to (``create_dense``)
MAX_LAVA_DELAY = 62
#: netx's bias exponent for CUBA/LOIHI neurons (``get_neuron_params``)
BIAS_EXP = 6
SUPPORTED_BLOCKS = ("input", "flatten", "dense", "dense_rec", "conv")
#: blocks lava-dl's netx (``hdf5.Network._create``) raises NotImplementedError for
NETX_UNIMPLEMENTED = ("pool", "convT", "unpool", "average", "concat")
#: Lava 0.10's fixed_pt Conv clamps its output to signed 24 bits (``utils.signed_clamp``)
CONV_OUT_LIMIT = 1 << 23


class NetxImportWarning(UserWarning):
    """Something netx itself would also change (clamped delays, clipped weights)."""


def lava_dl_weight_bits(w: np.ndarray, where: str = "weight") -> tuple[np.ndarray, int, int, str, list[str]]:
    """(stored weights, num_weight_bits, weight_exp, sign_mode, notes) for an integer weight matrix, as lava-dl's
    netx places a trained 8-bit matrix into Loihi's synapse (``lava/lib/dl/netx/utils.py``,
    ``optimize_weight_bits``; written from its documented behaviour):

    1. a mixed-sign matrix is clipped to [-256, 254] (a note says so);
    2. sign mode: inhibitory if every weight < 0, excitatory if every weight >= 0, else mixed;
    3. the largest scale that fits the mode's range (excitatory 255/max, inhibitory -256/min, mixed the smaller
       of 127/max and -128/min) gives ``k = floor(log2(scale)) + (1 if mixed)`` bits of headroom;
    4. the weights are shifted left by ``k`` and ``weight_exp = -k`` undoes it on the dendrite sum;
    5. ``num_weight_bits = 8 - k - z`` with ``z`` the number of trailing zero bits every weight shares
       (0..8, minus 1 when mixed); below 1 it is 1 here (Lava's truncation leaves such weights unchanged at
       either width), above 8 (odd mixed weights beyond 127, which Lava keeps untruncated) it is refused.
    """
    w = np.asarray(w, np.int64)
    notes: list[str] = []
    hi, lo = int(w.max()), int(w.min())
    if lo < 0 < hi and (hi > 254 or lo < -256):
        notes.append(f"{where}: {int(np.sum((w > 254) | (w < -256)))} weights clipped to [-256, 254] (as netx does)")
        w = np.clip(w, -256, 254)
        hi, lo = int(w.max()), int(w.min())
    if hi < 0:
        mode, signed, scale = "inhibitory", 0, -256.0 / lo
    elif lo >= 0:
        if hi == 0:
            raise NetworkFormatError("every weight is 0", field=where, fix="remove the block or give it weights")
        mode, signed, scale = "excitatory", 0, 255.0 / hi
    else:
        mode, signed, scale = "mixed", 1, min(127.0 / hi, -128.0 / lo)
    k = int(np.floor(np.log2(scale))) + signed
    if k < 0:
        raise NetworkFormatError(f"weights up to {max(abs(hi), abs(lo))} do not fit Loihi's 8-bit {mode} synapse",
                                 field=where, fix="export 8-bit weights (SLAYER quantizes them to [-256, 255])")
    z = 0
    for n in range(8, 0, -1):
        if np.all(w % (1 << n) == 0):
            z = n
            break
    bits = 8 - k - (z - signed)
    # bits < 1 (every weight shares more zero bits than the format has): Lava truncates nothing of these weights,
    # and neither does the 1-bit format; bits > 8 (odd mixed weights above 127) has no 8-bit equivalent
    bits = max(bits, 1)
    if bits > 8:
        raise NetworkFormatError(f"the weights need {bits} weight bits, outside Loihi's 1..8", field=where,
                                 fix="export 8-bit weights")
    return w << k, bits, -k, mode, notes


def conv_weight_format(k: np.ndarray, where: str = "weight") -> tuple[np.ndarray, int, int, str]:
    """(stored kernel, num_weight_bits, weight_exp, sign_mode) holding an integer conv kernel exactly.

    netx hands a conv block's kernel to Lava's ``Conv`` as read (no ``optimize_weight_bits``), whose fixed-point
    model sums the integers as they are; a Loihi synapse holds them exactly in the first format that fits:
    excitatory (0..255), inhibitory (-255..0), mixed with 8 bits (even values in -256..254: SLAYER's step-2
    quantization), else mixed with ``weight_exp = -1`` and doubled weights (any value in -128..127; every partial
    sum is even, so halving it is exact). Anything else (odd weights beyond -128..127 of mixed sign, or beyond
    the 8-bit range) has no exact Loihi synapse: one line naming the block.
    """
    k = np.asarray(k, np.int64)
    lo, hi = (int(k.min()), int(k.max())) if k.size else (0, 0)
    if lo >= 0 and hi <= 255:
        return k, 8, 0, "excitatory"
    if hi <= 0 and lo >= -255:
        return k, 8, 0, "inhibitory"
    if lo >= -256 and hi <= 254 and not np.any(k % 2):
        return k, 8, 0, "mixed"
    if lo >= -128 and hi <= 127:
        return 2 * k, 8, -1, "mixed"
    raise NetworkFormatError(f"kernel weights {lo}..{hi} (odd, mixed signs) have no exact 8-bit Loihi synapse",
                             field=where, fix="export 8-bit weights (SLAYER quantizes them to even values in "
                                              "-256..254) or keep odd weights within -128..127")


def _pair(g: Any, key: str, where: str, default: int) -> tuple[int, int]:
    """A netx (y, x) pair: two values, or one scalar for both (netx ``expand``)."""
    if key not in g:
        return (default, default)
    a = _int_array(g, key, where).reshape(-1)
    if a.size == 1:
        return (int(a[0]), int(a[0]))
    if a.size != 2:
        raise NetworkFormatError(f"has {a.size} values", field=f"{where}/{key}", fix="one value or a (y, x) pair")
    return (int(a[0]), int(a[1]))


def _text(ds: Any) -> str:
    v = ds[()] if hasattr(ds, "shape") else ds
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0] if v.size else b""
    return v.decode("ascii", "replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _int_array(g: Any, key: str, where: str) -> np.ndarray:
    """A numeric dataset as int64, truncated toward zero (netx reads ``weight``/``bias`` with ``astype(int)``)."""
    try:
        a = np.asarray(g[key][()])
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise TypeError
    except (TypeError, ValueError, KeyError, OSError):
        raise NetworkFormatError("is not a finite numeric array", field=f"{where}/{key}",
                                 fix="write it as netx does (numbers)") from None
    return np.trunc(a).astype(np.int64)


def _scalar(g: Any, key: str, where: str, default: int | None = None) -> int:
    if key not in g:
        if default is None:
            raise NetworkFormatError("is missing", field=f"{where}/{key}", fix="netx CUBA neurons need it")
        return default
    a = _int_array(g, key, where).reshape(-1)
    if a.size != 1:
        raise NetworkFormatError(f"has {a.size} values", field=f"{where}/{key}", fix="one value per block")
    return int(a[0])


def _neuron(layer: Any, where: str) -> dict[str, Any]:
    """loihi_lif parameters of a block's ``neuron`` group (netx ``get_neuron_params`` for CUBA/LOIHI)."""
    if "neuron" not in layer:
        raise NetworkFormatError("has no neuron group: netx's default (iDecay 0, vDecay 4096: a non-leaky "
                                 "current) has du = -1, which a loihi_lif core's 12-bit du cannot hold",
                                 field=f"{where}/neuron", fix="export the block with a CUBA neuron")
    g = layer["neuron"]
    kind = _text(g["type"]) if "type" in g else ""
    if kind not in LIF_TYPES:
        raise NetworkFormatError(f"neuron type {kind!r}, which neuromap cannot import (netx maps it onto "
                                 f"{'Sigma-Delta' if kind == 'SDNN' else 'a non-LIF'} process)",
                                 field=f"{where}/neuron/type", fix="supported: " + ", ".join(LIF_TYPES))
    if "gradedSpike" in g and _scalar(g, "gradedSpike", f"{where}/neuron"):
        raise NetworkFormatError("graded spikes", field=f"{where}/neuron/gradedSpike",
                                 fix="neuromap imports binary spikes (gradedSpike 0)")
    if "messageBits" in g and _scalar(g, "messageBits", f"{where}/neuron"):
        raise NetworkFormatError("graded messages", field=f"{where}/neuron/messageBits",
                                 fix="neuromap imports binary spikes (messageBits 0)")
    i_decay = _scalar(g, "iDecay", f"{where}/neuron")
    v_decay = _scalar(g, "vDecay", f"{where}/neuron")
    vth = _scalar(g, "vThMant", f"{where}/neuron")
    if not 1 <= i_decay <= 4096:
        raise NetworkFormatError(f"iDecay {i_decay} gives Lava du = {i_decay - 1}, outside a loihi_lif core's "
                                 "12-bit du (0..4095)", field=f"{where}/neuron/iDecay",
                                 fix="iDecay in 1..4096 (iDecay 0, no current decay, has no loihi_lif equivalent)")
    if not 0 <= v_decay <= 4095:
        raise NetworkFormatError(f"vDecay {v_decay} is outside a loihi_lif core's 12-bit dv (0..4095)",
                                 field=f"{where}/neuron/vDecay", fix="vDecay in 0..4095")
    if not 0 <= vth <= 131071:
        raise NetworkFormatError(f"vThMant {vth} is outside a loihi_lif core's 17-bit vth (0..131071)",
                                 field=f"{where}/neuron/vThMant", fix="vThMant in 0..131071")
    return {"du": i_decay - 1, "dv": v_decay, "vth": vth}


def _delays(layer: Any, where: str, shape: tuple[int, int]) -> np.ndarray | None:
    """Image delays (Lava delay + 1) per (out, in) entry, or None without ``delay``."""
    if "delay" not in layer:
        return None
    d = _int_array(layer, "delay", where)
    if d.size and (d.min() < 0):
        raise NetworkFormatError("negative delay", field=f"{where}/delay", fix="delays are >= 0 steps")
    if d.size and d.max() > MAX_LAVA_DELAY:
        warnings.warn(f"{where}/delay: delays up to {int(d.max())} clamped to {MAX_LAVA_DELAY} (as netx does)",
                      NetxImportWarning, stacklevel=4)
        d = np.minimum(d, MAX_LAVA_DELAY)
    out, inp = shape
    if d.size == 1:
        d = np.full(shape, int(d.reshape(-1)[0]))
    elif d.ndim == 1 and d.size == out:
        d = np.repeat(d.reshape(-1, 1), inp, axis=1)
    elif d.ndim == 1 and d.size == inp:
        d = np.repeat(d.reshape(1, -1), out, axis=0)
    elif d.shape != shape:
        raise NetworkFormatError(f"shape {d.shape} does not fit weight shape {shape}", field=f"{where}/delay",
                                 fix="one delay, one per output, one per input, or one per weight")
    return d + 1


def read_netx(path: str | os.PathLike, inputs: dict[str, Any] | None = None, dt: float = 1.0,
              name: str | None = None, seed: int = 0) -> Network:
    """A hardware-unit (``loihi_lif``) Network from a lava-dl netx HDF5 file (conventions: module docstring).

    inputs: neuron spec of the input population (default ``{"model": "poisson"}``, 10 Hz). dt: ms per step
    (netx is step-based; only rates and times in ms depend on it). Populations are named ``layer<i>``
    (``i`` the block's key) and ``input``; every neuron block gets a spike probe, the last one is the output.
    One-line NetworkFormatError for anything netx describes that neuromap cannot run exactly.
    """
    import h5py
    file = os.fspath(path)
    if not os.path.exists(file):
        raise NetworkFormatError("file not found", file=file, fix="check the path")
    try:
        open_regular(file, "the netx file", MAX_NETX_BYTES,
                     error=lambda p: NetworkFormatError(p, file=file, fix="give a lava-dl netx HDF5 file")).close()
        f = h5py.File(file, "r")
    except NetworkFormatError:
        raise
    except OSError as e:
        raise NetworkFormatError(f"not a readable HDF5 file ({str(e)[:80]})", file=file,
                                 fix="give a lava-dl netx HDF5 file (SLAYER's export_hdf5)") from None
    try:
        with f:
            return _network(f, inputs, dt, name or os.path.splitext(os.path.basename(file))[0], seed)
    except NetworkFormatError as e:
        raise e.located(file=file) from None
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise NetworkFormatError(f"not a netx network ({type(e).__name__}: {str(e)[:80]})", file=file,
                                 fix="a netx file has a group 'layer' with blocks '0', '1', ...") from None


def _network(f: Any, inputs: dict | None, dt: float, name: str, seed: int) -> Network:
    if "layer" not in f:
        raise NetworkFormatError("has no group 'layer'", field="layer",
                                 fix="a netx file has a group 'layer' with blocks '0', '1', ...")
    layers = f["layer"]
    keys = sorted(layers.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    net = Network(name=name, dt=dt, seed=seed)
    prev: tuple[str, int, tuple[int, ...]] | None = None       # (population, size, (C, H, W) or (n,)) feeding on
    in_spec = dict(inputs or {"model": "poisson"})
    for key in keys:
        layer, where = layers[key], f"layer/{key}"
        kind = _text(layer["type"]) if "type" in layer else ""
        if kind not in SUPPORTED_BLOCKS:
            what = (f"a {kind!r} block, which lava-dl's netx itself does not implement (NotImplementedError)"
                    if kind in NETX_UNIMPLEMENTED else f"a {kind!r} block, which neuromap cannot import")
            raise NetworkFormatError(what, field=f"{where}/type",
                                     fix="supported netx blocks: " + ", ".join(SUPPORTED_BLOCKS))
        if kind == "flatten":
            continue
        if kind == "input":
            if prev is not None:
                raise NetworkFormatError("an input block after other blocks", field=f"{where}/type",
                                         fix="the input block comes first")
            shape = tuple(int(x) for x in _int_array(layer, "shape", where).reshape(-1))
            size = int(np.prod(shape))
            net.add_population("input", size, dict(in_spec))
            prev = ("input", size, shape)
            continue
        out_shape = tuple(int(x) for x in _int_array(layer, "shape", where).reshape(-1))
        out = int(np.prod(out_shape))
        if kind == "conv":
            if prev is None:
                raise NetworkFormatError("a conv block without an input block before it", field=f"{where}/type",
                                         fix="give the input block (its shape is the conv's (C, H, W) input)")
            conv = _conv(layer, where, prev, out_shape)
        else:
            conv = None
            w = _int_array(layer, "weight", where)
            if w.ndim == 1:
                w = w.reshape(out, -1)
            if w.ndim != 2 or w.shape[0] != out:
                raise NetworkFormatError(f"weight shape {w.shape} does not fit {out} neurons",
                                         field=f"{where}/weight", fix="dense weights are (out, in)")
            if prev is None:     # no input block: the network's input is the first block's synapses
                net.add_population("input", w.shape[1], dict(in_spec))
                prev = ("input", w.shape[1], (w.shape[1],))
            if w.shape[1] != prev[1]:
                raise NetworkFormatError(f"weight has {w.shape[1]} inputs, the block before has {prev[1]} neurons",
                                         field=f"{where}/weight", fix="blocks must chain")
        pop = f"layer{key}"
        net.add_population(pop, out, "loihi_lif", **_neuron(layer, where),
                           bias_mant=_bias(layer, where, out_shape if conv else (out,)), bias_exp=BIAS_EXP)
        if conv is not None:
            spec, kernel = conv
            stored, bits, exp, mode = conv_weight_format(kernel, f"{where}/weight")
            net.connect(prev[0], pop, connect={**spec, "kernel": stored}, weight_exp=exp, num_weight_bits=bits,
                        sign_mode=mode, name=f"{pop}_w")
            net.add_probe(pop, ("spikes",))
            prev = (pop, out, out_shape)
            continue
        mats = [("", w, prev[0])]
        if kind == "dense_rec":
            wr = _int_array(layer, "weight_rec", where)
            wr = wr.reshape(out, -1) if wr.ndim == 1 else wr
            if wr.shape != (out, out):
                raise NetworkFormatError(f"weight_rec shape {wr.shape}", field=f"{where}/weight_rec",
                                         fix=f"a recurrent matrix is ({out}, {out})")
            mats.append(("_rec", wr, pop))
        stored, bits, exp, mode, notes = lava_dl_weight_bits(np.hstack([m for _, m, _ in mats]), f"{where}/weight")
        for note in notes:
            warnings.warn(note, NetxImportWarning, stacklevel=3)
        col = 0
        delays = _delays(layer, where, w.shape)
        for suffix, m, src in mats:
            part = stored[:, col:col + m.shape[1]]
            col += m.shape[1]
            post, pre = np.nonzero(part)
            if not post.size:
                continue
            d = delays[post, pre] if delays is not None and not suffix else np.ones(post.size, np.int64)
            net.connect(src, pop, connect={"rule": "list", "pre": pre, "post": post}, weight=part[post, pre],
                        delay=d, weight_exp=exp, num_weight_bits=bits, sign_mode=mode, name=f"{pop}{suffix}_w")
        net.add_probe(pop, ("spikes",))
        prev = (pop, out, (out,))
    if prev is None or prev[0] == "input":
        raise NetworkFormatError("has no dense or conv block", field="layer",
                                 fix="a netx network needs a neuron block")
    return net


def _bias(layer: Any, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """Per-neuron ``bias_mant`` (population order) as netx's ``AbstractBlock._neuron`` broadcasts ``bias``: a dense
    block's as Lava broadcasts it (one value or one per neuron), a conv block's one per output channel (or one
    per neuron, stored (W, H, C) as netx's shape)."""
    out = int(np.prod(shape))
    if "bias" not in layer:
        return np.zeros(out, np.int64)
    b = _int_array(layer, "bias", where)
    if len(shape) == 3:
        c, h, w = shape
        if b.reshape(-1).size == c and b.ndim <= 1:
            b = np.repeat(b.reshape(-1), h * w)
        elif b.shape == (w, h, c):
            b = b.transpose(2, 1, 0).reshape(-1)
        else:
            raise NetworkFormatError(f"shape {b.shape} is neither one value per output channel ({c}) nor "
                                     f"(W, H, C) = {(w, h, c)}", field=f"{where}/bias",
                                     fix="one bias per output channel, as SLAYER exports it")
    else:
        b = b.reshape(-1)
        if b.size not in (1, out):
            raise NetworkFormatError(f"has {b.size} values for {out} neurons", field=f"{where}/bias",
                                     fix="one bias per neuron or one for the block")
        b = np.broadcast_to(b, (out,))
    if np.any((b < -4096) | (b > 4095)):
        raise NetworkFormatError(f"bias {int(np.abs(b).max())} is outside a loihi_lif core's 13-bit bias "
                                 "mantissa (-4096..4095)", field=f"{where}/bias", fix="a bias in -4096..4095")
    return np.ascontiguousarray(b)


def _conv(layer: Any, where: str, prev: tuple[str, int, tuple[int, ...]], out_shape: tuple[int, ...]
          ) -> tuple[dict[str, Any], np.ndarray]:
    """(connect spec without the kernel, integer kernel (C_out, C_in/groups, kh, kw)) of a netx conv block, as
    netx's ``create_conv`` hands them to Lava's ``Conv`` (shapes checked as its ``Conv`` block does)."""
    in_shape = prev[2]
    if len(in_shape) != 3:
        raise NetworkFormatError(f"follows a block of shape {list(in_shape)}, not (C, H, W)", field=f"{where}/type",
                                 fix="a conv block follows the input block or a conv block (3-D shapes)")
    if len(out_shape) != 3:
        raise NetworkFormatError(f"has {len(out_shape)} values", field=f"{where}/shape",
                                 fix="a conv block's shape is (C, H, W)")
    k = _int_array(layer, "weight", where)
    if k.ndim == 5 and k.shape[4] == 1:          # SLAYER's (out, in, kh, kw, 1): netx reshape(weight.shape[:4])
        k = k[..., 0]
    if k.ndim != 4:
        raise NetworkFormatError(f"shape {k.shape} is not a conv kernel", field=f"{where}/weight",
                                 fix="conv weights are (C_out, C_in/groups, kh, kw)")
    groups = _scalar(layer, "groups", where, default=1)
    stride, padding = _pair(layer, "stride", where, 1), _pair(layer, "padding", where, 0)
    dilation = _pair(layer, "dilation", where, 1)
    g = ConvGeometry(in_shape, int(k.shape[0]), (int(k.shape[2]), int(k.shape[3])), stride, padding, dilation,
                     int(groups))
    bad = g.problem()
    if bad is None and k.shape[1] != in_shape[0] // groups:
        bad = f"the kernel takes {k.shape[1]} input channels, the block before has {in_shape[0]} in {groups} groups"
    if bad is None and g.out_shape != out_shape:
        bad = f"the convolution gives {list(g.out_shape)}, the block's shape is {list(out_shape)}"
    if bad:
        raise NetworkFormatError(bad, field=f"{where}/weight", fix="write the block as netx's create_conv reads it")
    if "delay" in layer:
        warnings.warn(f"{where}/delay: ignored (netx's create_conv ignores a conv block's delay)",
                      NetxImportWarning, stacklevel=4)
    if int(np.abs(k).reshape(k.shape[0], -1).sum(1).max(initial=0)) >= CONV_OUT_LIMIT:
        warnings.warn(f"{where}/weight: a step's input can reach 2**23, where Lava's Conv (netx) clamps its output "
                      "to 24 bits and neuromap does not", NetxImportWarning, stacklevel=4)
    return ({"rule": "conv", "in_shape": list(in_shape), "stride": list(stride), "padding": list(padding),
             "dilation": list(dilation), "groups": int(groups)}, k)


__all__ = ["read_netx", "lava_dl_weight_bits", "conv_weight_format", "NetxImportWarning", "SUPPORTED_BLOCKS"]
