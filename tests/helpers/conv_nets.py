"""Small hardware-unit convolutional networks for the conv tests of the compiler, the image and the engines."""
from __future__ import annotations

import numpy as np

from neuromap.network import Network
from tests.helpers.strategies import conv_out_size, conv_spec


def even_kernel(geo: dict, rng: np.random.Generator, lo: int = -60, hi: int = 60) -> np.ndarray:
    """Even integer weights (stored unchanged by an 8-bit mixed-sign projection), shape (C_out, C_in/g, kh, kw)."""
    shape = (geo["out_channels"], geo["in_shape"][0] // geo["groups"]) + tuple(geo["kernel_size"])
    return (rng.integers(lo // 2, hi // 2 + 1, shape) * 2).astype(float)


def hw_conv_net(geo: dict, seed: int = 0, steps: int = 30, vth: int = 40, weight_exp: int = 0
                ) -> tuple[Network, np.ndarray]:
    """``inp`` (spike_source, a few random spikes per input in ``steps`` steps) -conv ``geo``-> ``c1``
    (loihi_lif) -pointwise conv (1x1 kernel, 2 channels, delay 2)-> ``c2``; returns the network and c1's kernel
    (``weight_exp``: of the first convolution)."""
    rng = np.random.default_rng(seed)
    n_in = int(np.prod(geo["in_shape"]))
    n1 = conv_out_size(geo)
    plane = n1 // geo["out_channels"]
    times = [sorted(rng.choice(steps, size=int(rng.integers(0, 6)), replace=False).astype(float).tolist())
             for _ in range(n_in)]
    net = Network(seed=seed)
    net.add_population("inp", n_in, "spike_source", times=times)
    cell = {"model": "loihi_lif", "du": int(rng.integers(0, 4096)), "dv": int(rng.integers(0, 4096)), "vth": vth}
    net.add_population("c1", n1, dict(cell))
    net.add_population("c2", 2 * plane, dict(cell))
    kernel = even_kernel(geo, rng)
    net.connect("inp", "c1", conv_spec(geo, kernel), name="conv1", weight_exp=weight_exp)
    k2 = (rng.integers(-30, 31, (2, geo["out_channels"], 1, 1)) * 2).astype(float)
    shape1 = [geo["out_channels"], plane] if geo["one_d"] else [geo["out_channels"], n1 // geo["out_channels"]
                                                                 // _width(geo), _width(geo)]
    spec = {"rule": "conv", "in_shape": shape1, "kernel": k2[:, :, 0, :] if geo["one_d"] else k2}
    net.connect("c1", "c2", spec, name="conv2", weight_exp=0, delay=2)
    net.add_probe("c1", ("spikes", "v"))
    return net, kernel


def _width(geo: dict) -> int:
    w, kw, sx, px, dx = geo["in_shape"][-1], geo["kernel_size"][1], geo["stride"][1], geo["padding"][1], \
        geo["dilation"][1]
    return (w + 2 * px - dx * (kw - 1) - 1) // sx + 1
