"""Random networks of joined compartments (dendrite populations with ``join``, docs/image-format.md *Compartments*)
for the placement and sharded-run tests."""
from __future__ import annotations

import numpy as np

from neuromap.network import Network


def joined_net(seed: int, poisson: bool = False) -> Network:
    """Dendrites declared before and after their somas, plain neurons in between, recurrent soma -> dendrite; with
    ``poisson`` a Poisson input onto the dendrites too."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 9)), int(rng.integers(1, 6))
    net = Network(seed=seed)
    net.add_population("dend_b", m, neuron="loihi_lif", join="soma_b", du=4095, dv=int(rng.integers(100, 3000)))
    net.add_population("soma_a", n, neuron="loihi_lif", du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                       vth=int(rng.integers(5, 200)))
    net.add_population("plain", int(rng.integers(1, 7)), neuron="loihi_lif", du=100, dv=100, vth=50)
    net.add_population("dend_a", n, neuron="loihi_lif", join="soma_a", du=int(rng.integers(0, 4096)),
                       dv=int(rng.integers(0, 4096)))
    net.add_population("soma_b", m, neuron="loihi_lif", du=2000, dv=1000, vth=int(rng.integers(5, 200)))
    n_in = int(rng.integers(2, 6))
    net.add_population("inp", n_in, "spike_source",
                       times=[sorted(set(rng.integers(0, 30, rng.integers(1, 15)).tolist())) for _ in range(n_in)])
    if poisson:
        net.add_population("noise", 3, "poisson", rate=300.0)
        net.connect("noise", "dend_a", connect={"rule": "all_to_all"}, weight=60, weight_exp=4)
    for pre, post in (("inp", "dend_a"), ("inp", "soma_a"), ("soma_a", "dend_b"), ("inp", "dend_b"),
                      ("soma_b", "plain"), ("soma_a", "dend_a"), ("inp", "plain")):
        net.connect(pre, post, connect={"rule": "fixed_probability", "p": float(rng.uniform(0.3, 1.0))},
                    weight={"uniform_int": [-100, 255]}, delay={"uniform_int": [1, 3]}, weight_exp=4)
    return net


def urbanczik_net(seed: int, n_post: int = 3, n_in: int = 8) -> Network:
    """``n_post`` ``two_compartment`` neurons learning with ``urbanczik_senn`` (compiled: dendrites joined into somas,
    engine ``loihi3f_us``) from ``n_in`` Poisson inputs, taught by hidden weights through the soma conductances
    (examples/urbanczik_senn.py with several posts and fast learning)."""
    rng = np.random.default_rng(seed)
    w_star = rng.uniform(-1.0, 1.0, (n_post, n_in))
    net = Network(name="urbanczik_posts", dt=0.1, seed=seed)
    net.add_population("inp", n_in, "poisson", rate=200.0)
    net.add_population("post", n_post, "two_compartment", seed=seed)
    net.connect("inp", "post", "all_to_all", weight=0.0, name="dend",
                plasticity=dict(rule="urbanczik_senn", eta=500.0, tau_Delta=100.0, update="time"))
    for name, target, w in (("t_exc", "soma_exc", np.maximum(w_star, 0.0)),
                            ("t_inh", "soma_inh", np.maximum(-w_star, 0.0))):
        net.connect("inp", "post", "all_to_all", weight=15.0 * w.T.ravel(), target=target, name=name)
    return net
