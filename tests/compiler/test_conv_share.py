"""Convolutions compiled with shared weights: the image stores kernel + geometry (neuromap.compiler.conv_share),
its expansion (neuromap.conv_geometry.expand) is the convolution of the oracle (tests/oracles/conv.py) over random
geometries, and what cannot be shared keeps explicit synapses with a note."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from neuromap.conv_geometry import axon_sources, expand, memory_report
from neuromap.toolchain import compile_network
from tests.helpers.conv_nets import hw_conv_net
from tests.helpers.strategies import conv_geometries
from tests.oracles import conv as oracle


def _matrix(img, k):
    """Dense (post, pre) stored-weight matrix of projection ``k`` of an explicit image."""
    pm = img.projections[k]
    pre, post = img.population(pm.pre), img.population(pm.post)
    syn_ax = np.repeat(np.arange(img.n_axons), np.diff(img.axons["syn_ptr"]))
    sel = img.axons["proj"][syn_ax] == k
    src = axon_sources(img)[syn_ax[sel]] - (pre.start + (img.n_neurons if pre.kind == "input" else 0))
    W = np.zeros((post.size, pre.size), np.int64)
    np.add.at(W, (img.synapses["post"][sel] - post.start, src), img.synapses["weight"][sel])
    return W


@settings(max_examples=25, deadline=None)
@given(conv_geometries(max_side=6), st.integers(0, 10 ** 6))
def test_shared_conv_expands_to_the_oracle_convolution(geo, seed):
    net, kernel = hw_conv_net(geo, seed)
    img = compile_network(net, "loihi", placer="greedy", rate_check="never").image
    shared = ["conv1", "conv2"] if net.projections[0].n_synapses else ["conv2"]   # all taps in the padding: none
    assert [img.projections[c.projection].name for c in img.convs] == shared
    assert img.n_synapses == 0                              # every synapse is a kernel's
    full = expand(img)
    assert not full.convs and full.n_synapses > 0
    full.verify()
    c, h, w = (geo["in_shape"][0], 1, geo["in_shape"][1]) if geo["one_d"] else geo["in_shape"]
    x = np.random.default_rng(seed).integers(-3, 4, (c, h, w))
    want = oracle.flatten(oracle.conv2d(x.tolist(), kernel.astype(int).tolist(), geo["stride"], geo["padding"],
                                        geo["dilation"], geo["groups"]))
    assert (_matrix(full, 0) @ x.reshape(-1)).tolist() == want
    assert set(full.synapses["delay"][full.axons["proj"][np.repeat(np.arange(full.n_axons),
                                                                    np.diff(full.axons["syn_ptr"]))] == 1]) == {2}


def test_memory_report_and_kept_explicit():
    geo = {"in_shape": [2, 10, 10], "out_channels": 4, "kernel_size": (3, 3), "stride": (1, 1),
           "padding": (1, 1), "dilation": (1, 1), "groups": 1, "one_d": False}
    net, _ = hw_conv_net(geo, 3)
    res = compile_network(net, "loihi", placer="greedy", rate_check="never")
    rep = memory_report(res.image)
    assert rep["synapse_memory_bits"] < rep["explicit_synapse_memory_bits"]
    assert rep["conv"][0]["synapses"] == 4 * 2 * (8 * 8 * 9 + 4 * 8 * 6 + 4 * 4)     # interior, edges, corners
    assert rep["conv"][0]["kernel_weights"] == 4 * 2 * 9
    stat = {s.name: s.value for s in res.record("lower").statistics}
    assert stat["shared_synapse_memory_bits"] == rep["synapse_memory_bits"]
    # stochastic rounding of float weights gives different stored weights per position: kept explicit, said why
    from neuromap.network import Network
    fnet = Network(seed=1)
    fnet.add_population("a", 36, "poisson", rate=50.0)
    fnet.add_population("b", 36, "lif")
    kernel = np.random.default_rng(0).uniform(0.1, 0.5, (1, 1, 3, 3))
    fnet.connect("a", "b", {"rule": "conv", "in_shape": [1, 6, 6], "kernel": kernel, "padding": 1})
    res = compile_network(fnet, "loihi", placer="greedy", rate_check="never", rounding="stochastic")
    assert not res.image.convs and res.image.n_synapses == 4 * 4 * 9 + 4 * 4 * 6 + 4 * 4   # 6x6 'same' 3x3
    assert any("keeps explicit synapses" in w for w in res.warnings())
    res = compile_network(fnet, "loihi", placer="greedy", rate_check="never")
    assert len(res.image.convs) == 1 and res.image.n_synapses == 0
