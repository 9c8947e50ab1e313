"""2-D topographic E/I sheet with Gaussian local connectivity (placement benchmark network).

Excitatory neurons on a ``side_e`` x ``side_e`` grid and inhibitory ones on a ``side_i`` x
``side_i`` grid, both covering the unit square. Every neuron receives ``k_e`` excitatory and
``k_i`` inhibitory synapses whose sources are drawn around its own position with a Gaussian
offset of standard deviation ``sigma`` (unit-square lengths), so connectivity is local and
a placer that keeps neighbourhoods on a core saves most traffic. Neuron ids run row-major
over each grid (population order E, I), which is what ``sequential`` placement sees.
A Poisson population ``drive`` excites random neurons so the sheet is active.

Default (:func:`build`): 144^2 E + 72^2 I = 25 920 neurons, 2.6 M synapses, ``loihi_lif``.
From the CLI::

    neuromap compile examples/topographic_sheet.py:build -o build/sheet
    neuromap compile examples/topographic_sheet.py:small -o build/sheet_small   # 320 neurons
    neuromap compile examples/topographic_sheet.py:large -o build/sheet_100k    # 100k / 10M
"""
from __future__ import annotations

import numpy as np

from neuromap.network import Network

FULL = dict(side_e=144, side_i=72, k_e=80, k_i=20, sigma=0.03)
#: 100k neurons; 125 drawn inputs each (12.5M), ~10.1M distinct synapses once repeated pairs merge
LARGE = dict(side_e=283, side_i=141, k_e=100, k_i=25, sigma=0.015, n_drive=256)


def grid(side: int) -> np.ndarray:
    """Cell centres of a side x side grid on the unit square, row-major, shape (side^2, 2)."""
    c = (np.arange(side) + 0.5) / side
    x, y = np.meshgrid(c, c, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], 1)


def sheet_edges(side_e: int = 144, side_i: int = 72, k_e: int = 80, k_i: int = 20, sigma: float = 0.03,
                seed: int = 0):
    """Synapses of the sheet over global ids (E first, then I): ``(n_e, n_i, pre, post, src_is_e)``.

    Each neuron draws ``k_e`` sources on the E grid and ``k_i`` on the I grid at its position plus
    N(0, sigma^2) per axis (clipped to the square); self-connections are dropped.
    """
    rng = np.random.default_rng(seed)
    pe, pi = grid(side_e), grid(side_i)
    pos = np.concatenate([pe, pi])
    n_e, n = len(pe), len(pe) + len(pi)
    pres, posts, exc = [], [], []
    for side, k, off, is_e in ((side_e, k_e, 0, True), (side_i, k_i, n_e, False)):
        post = np.repeat(np.arange(n), k)
        where = pos[post] + rng.normal(0.0, sigma, (len(post), 2))
        ij = np.clip(np.floor(where * side).astype(np.int64), 0, side - 1)
        pre = off + ij[:, 0] * side + ij[:, 1]
        keep = pre != post
        pres.append(pre[keep])
        posts.append(post[keep])
        exc.append(np.full(int(keep.sum()), is_e))
    return n_e, n - n_e, np.concatenate(pres), np.concatenate(posts), np.concatenate(exc)


def build(side_e: int = 144, side_i: int = 72, k_e: int = 80, k_i: int = 20, sigma: float = 0.03,
          seed: int = 0, n_drive: int = 64) -> Network:
    """The sheet as a :class:`Network` of ``loihi_lif`` neurons (weights in hardware units)."""
    n_e, n_i, pre, post, exc = sheet_edges(side_e, side_i, k_e, k_i, sigma, seed)
    net = Network(name="topographic_sheet", seed=seed)
    net.add_population("drive", n_drive, neuron="poisson", rate=100.0)
    lif = dict(neuron="loihi_lif", vth=60, du=2048, dv=256)
    net.add_population("E", n_e, **lif)
    net.add_population("I", n_i, **lif)
    names = {0: "E", 1: "I"}
    for src_e, w in ((True, 12), (False, -24)):
        src = "E" if src_e else "I"
        for dst in (0, 1):
            lo, hi = (0, n_e) if dst == 0 else (n_e, n_e + n_i)
            sel = (exc == src_e) & (post >= lo) & (post < hi)
            p = pre[sel] - (0 if src_e else n_e)
            q = post[sel] - lo
            net.connect(src, names[dst], connect={"rule": "list", "pre": p, "post": q},
                        weight=w, name=f"{src}_to_{names[dst]}")
    net.connect("drive", "E", connect={"rule": "fixed_probability", "p": min(1.0, 20 / max(n_e, 1))},
                weight=120, name="drive_to_E")
    return net


def large() -> Network:
    """The 100k-neuron / 10M-synapse scale case: 283^2 E + 141^2 I (99 970 neurons), sigma 0.015."""
    return build(**LARGE)


def small() -> Network:
    """A 16^2 E + 8^2 I sheet (320 neurons) for tests and quick looks."""
    return build(side_e=16, side_i=8, k_e=12, k_i=4, sigma=0.08, n_drive=16)
