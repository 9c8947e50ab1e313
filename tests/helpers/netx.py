"""Write small lava-dl netx HDF5 files (the layout ``lava.lib.dl.netx.hdf5.Network`` reads and SLAYER's
``export_hdf5`` writes; docs/nir.md, *lava-dl netx HDF5*) for the tests and for tests/fixtures/make_netx.py.

Layout: a group ``layer`` with one group per block ``"0"``, ``"1"``, ...; each block has ``type`` (ASCII
string: ``input``, ``dense``, ``dense_rec``, ``flatten``, ``conv``, ...), ``shape`` (int array, CHW order for
images, ``[n]`` for dense) and, for neuron blocks, ``weight`` ((out, in) floats holding integers, 8-bit as
SLAYER quantizes them), optional ``bias`` ((out,)), ``delay`` and ``weight_rec``, and a group ``neuron`` with
``type`` (``CUBA``), ``iDecay``, ``vDecay``, ``vThMant``, ``refDelay`` and ``gradedSpike`` (scalars).

Conv blocks (:func:`conv`) as SLAYER's ``export_hdf5`` writes them (and lava-dl's own test networks have them):
``type`` a (1,) ``|S10`` array, ``shape`` (C, H, W) of the output, ``weight`` (C_out, C_in/groups, kh, kw, 1)
float32 (PyTorch's cross-correlation layout plus SLAYER's time axis), ``bias`` (C_out,), ``stride``, ``padding``,
``dilation`` (y, x) int64 pairs, ``groups``, ``inChannels``, ``outChannels`` scalars, ``kernelSize`` (kh, kw).
The input block of a conv network has ``shape`` (C, H, W).
"""
from __future__ import annotations

from typing import Any

import h5py
import numpy as np


def cuba(i_decay: int = 1024, v_decay: int = 128, vth: int = 80, graded: bool = False) -> dict[str, Any]:
    return {"type": "CUBA", "iDecay": i_decay, "vDecay": v_decay, "vThMant": vth, "refDelay": 1,
            "gradedSpike": int(graded)}


def dense(weight: np.ndarray, neuron: dict | None = None, bias: Any = None, delay: Any = None,
          weight_rec: np.ndarray | None = None) -> dict[str, Any]:
    block = {"type": "dense" if weight_rec is None else "dense_rec", "shape": np.array([weight.shape[0]]),
             "weight": np.asarray(weight, np.float32)}
    if neuron is not None:
        block["neuron"] = neuron
    if bias is not None:
        block["bias"] = np.asarray(bias, np.float32)
    if delay is not None:
        block["delay"] = np.asarray(delay)
    if weight_rec is not None:
        block["weight_rec"] = np.asarray(weight_rec, np.float32)
    return block


def conv(weight: np.ndarray, in_shape: tuple[int, int, int], neuron: dict | None = None, bias: Any = None,
         stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups: int = 1) -> dict[str, Any]:
    """A conv block (``weight`` (C_out, C_in/groups, kh, kw)); its output ``shape`` computed as PyTorch does."""
    w = np.asarray(weight, np.float32)
    co, _, kh, kw = w.shape
    _, h, wd = in_shape
    (sy, sx), (py, px), (dy, dx) = stride, padding, dilation
    oh = (h + 2 * py - dy * (kh - 1) - 1) // sy + 1
    ow = (wd + 2 * px - dx * (kw - 1) - 1) // sx + 1
    block = {"type": np.array([b"conv"], dtype="|S10"), "shape": np.array([co, oh, ow], np.int64),
             "weight": w[..., None], "stride": np.array(stride, np.int64), "padding": np.array(padding, np.int64),
             "dilation": np.array(dilation, np.int64), "groups": np.int64(groups),
             "inChannels": np.int64(in_shape[0]), "outChannels": np.int64(co), "kernelSize": np.array([kh, kw])}
    if neuron is not None:
        block["neuron"] = neuron
    if bias is not None:
        block["bias"] = np.asarray(bias, np.float32)
    return block


def slayer_conv(seed: int = 0, side: int = 12) -> list:
    """A SLAYER-shaped conv network (the committed ``slayer_conv.net``): input (2, side, side) -> conv 6 channels 3x3
    padding 1 -> conv 8 channels 3x3 stride (2, 1) padding (1, 0), 2 groups -> flatten -> dense 5; even 8-bit
    weights, per-channel biases, Loihi decays (iDecay 4096: the current lasts one step, as SLAYER's CUBA-LIF
    exports usually have)."""
    rng = np.random.default_rng(seed)
    k1 = 2 * rng.integers(-24, 28, (6, 2, 3, 3))
    k2 = 2 * rng.integers(-30, 36, (8, 3, 3, 3))
    c1 = conv(k1, (2, side, side), cuba(4096, 1024, 60), bias=2 * rng.integers(-2, 2, 6), padding=(1, 1))
    c2 = conv(k2, tuple(c1["shape"]), cuba(2048, 512, 80), bias=rng.integers(-2, 3, 8), stride=(2, 1),
              padding=(1, 0), groups=2)
    n = int(np.prod(c2["shape"]))
    wd = 2 * rng.integers(-36, 37, (5, n))
    return [{"type": "input", "shape": np.array([2, side, side]), "neuron": cuba()}, c1, c2,
            {"type": "flatten", "shape": np.array([1, 1, n])}, dense(wd, cuba(1024, 128, 90))]


def write_netx(path, blocks: list[dict[str, Any]]) -> str:
    """Write ``blocks`` (dicts as :func:`dense` makes; nested dicts become groups, strings ASCII datasets)."""
    def put(g: h5py.Group, d: dict) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                put(g.create_group(k), v)
            elif isinstance(v, str):
                g.create_dataset(k, data=np.bytes_(v))
            else:
                g.create_dataset(k, data=v)

    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, b in enumerate(blocks):
            put(layers.create_group(str(i)), b)
    return str(path)


def slayer_like(seed: int = 0, n_in: int = 12, n_hid: int = 10, n_out: int = 4, recurrent: bool = False) -> list:
    """A SLAYER-shaped two-block CUBA network: even 8-bit weights (SLAYER's step-2 quantization), per-neuron
    biases, Loihi decays."""
    rng = np.random.default_rng(seed)
    w1 = 2 * rng.integers(-30, 90, (n_hid, n_in))
    w2 = 2 * rng.integers(-40, 100, (n_out, n_hid))
    rec = 2 * rng.integers(-20, 20, (n_hid, n_hid)) if recurrent else None
    return [{"type": "input", "shape": np.array([n_in]), "neuron": cuba()},
            dense(w1, cuba(1024, 128, 80), bias=rng.integers(-3, 4, n_hid), weight_rec=rec),
            dense(w2, cuba(2048, 256, 60), delay=rng.integers(0, 3, n_out))]
