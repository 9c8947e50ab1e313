"""Seed 004 on a sheet: a spatially extended balanced E/I network with inhibitory plasticity.

The network of ``examples/balanced_ei.py`` (Zhu & Rosenbaum 2020; Vogels et al. 2011: current-based
``lif`` neurons, tau_m = 20 ms, tau_syn = 5 ms, v_th = 1, a Poisson population X at 10 Hz, and
``vogels_isp`` on I -> E pulling the excitatory rate to rho0 = 5 Hz), with the neurons laid out on
the unit square with periodic boundaries, as in Rosenbaum's spatial balanced networks: X, E and I
sit on ``side_x``, ``side_e`` and ``side_i`` grids, and each neuron draws its presynaptic partners
around its own position with a Gaussian offset (standard deviation ``sigma_x`` for the feed-forward
X inputs, ``sigma`` for the recurrent ones, unit-square lengths). Repeated partners are dropped, so
in-degrees are at most ``k_x``, ``k_e``, ``k_i``.

Weights are the 900-neuron network's (``balanced_ei.yaml``: in-degrees X 40, E 40, I 10) times
``reference in-degree / mean realized in-degree`` of each projection, so the mean drive per neuron
stays that network's as the in-degree grows.

Local connectivity is what a mapper can exploit: neighbouring E and I neurons share most of their
inputs, so placing a patch of the sheet on one core, next to the cores holding the neighbouring
patches, keeps spikes on few mesh links. Neuron ids run row-major over each grid in population order
X, E, I, which is what ``--placer sequential`` sees. ``make demo`` compiles :func:`build`::

    neuromap compile examples/spatial_balanced_ei.py:build -o build/sheet_ei
    neuromap compile examples/spatial_balanced_ei.py:small -o build/sheet_ei_small   # 180 neurons
"""
from __future__ import annotations

import numpy as np

from neuromap.network import Network

LIF = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
ISP = dict(rule="vogels_isp", rho0=5.0, tau_stdp=20.0, w_min=0.0)
#: per-input weights of the 900-neuron network at in-degrees X 40, E 40, I 10
W = {("X", "E"): 0.5, ("X", "I"): 0.5, ("E", "E"): 0.1, ("E", "I"): 0.2, ("I", "E"): 0.1, ("I", "I"): 0.4}
K_REF = {"X": 40, "E": 40, "I": 10}


def grid(side: int) -> np.ndarray:
    """Cell centres of a side x side grid on the unit square, row-major, shape (side^2, 2)."""
    c = (np.arange(side) + 0.5) / side
    x, y = np.meshgrid(c, c, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], 1)


def local_partners(post_pos: np.ndarray, side_pre: int, k: int, sigma: float,
                   rng: np.random.Generator, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """``k`` draws per post neuron on a ``side_pre`` grid around its position (Gaussian, std ``sigma``,
    periodic boundaries); repeated (pre, post) pairs and, if ``exclude_self``, i -> i are dropped.
    Returns sorted ``(pre, post)`` index arrays."""
    n_post = len(post_pos)
    post = np.repeat(np.arange(n_post), k)
    where = (post_pos[post] + rng.normal(0.0, sigma, (len(post), 2))) % 1.0
    ij = np.minimum(np.floor(where * side_pre).astype(np.int64), side_pre - 1)
    pre = ij[:, 0] * side_pre + ij[:, 1]
    pairs = np.unique(post * (side_pre * side_pre) + pre)
    post, pre = pairs // (side_pre * side_pre), pairs % (side_pre * side_pre)
    keep = pre != post if exclude_self else np.ones(len(pre), bool)
    return pre[keep], post[keep]


def build(side_x: int = 32, side_e: int = 56, side_i: int = 28, k_x: int = 80, k_e: int = 160, k_i: int = 40,
          sigma_x: float = 0.1, sigma: float = 0.1, rate_x: float = 10.0, eta: float = 0.05,
          seed: int = 1) -> Network:
    """The sheet: ``side_e``^2 E + ``side_i``^2 I neurons, ``side_x``^2 Poisson inputs at ``rate_x`` Hz.

    Default: 3136 E + 784 I = 3920 neurons, 576 inputs, ~0.9 M synapses; ``eta`` is the ISP learning
    rate at the 900-neuron network's in-degree (scaled like the I -> E weight)."""
    rng = np.random.default_rng(seed)
    net = Network(name="spatial_balanced_ei", dt=1.0, seed=seed)
    sides = {"X": side_x, "E": side_e, "I": side_i}
    net.add_population("X", side_x * side_x, "poisson", rate=rate_x)
    net.add_population("E", side_e * side_e, "lif", **LIF)
    net.add_population("I", side_i * side_i, "lif", **LIF)
    k = {"X": k_x, "E": k_e, "I": k_i}
    for (pre, post), w in W.items():
        s = sigma_x if pre == "X" else sigma
        p, q = local_partners(grid(sides[post]), sides[pre], k[pre], s, rng, exclude_self=pre == post)
        scale = len(p) / (sides[post] ** 2 * K_REF[pre])   # mean realized in-degree / reference in-degree
        plastic = None
        if (pre, post) == ("I", "E"):
            plastic = dict(ISP, eta=eta / scale, w_max=5.0 / scale)
        net.connect(pre, post, {"rule": "list", "pre": p, "post": q}, weight=w / scale, delay=1,
                    target="inh" if pre == "I" else "exc", plasticity=plastic, name=f"{pre}_to_{post}")
    net.add_probe("E", "spikes")
    net.add_probe("I", "spikes")
    return net


def small() -> Network:
    """12^2 E + 6^2 I (180 neurons), 8^2 inputs: for tests and quick looks."""
    return build(side_x=8, side_e=12, side_i=6, k_x=20, k_e=40, k_i=10, sigma_x=0.1, sigma=0.15)
