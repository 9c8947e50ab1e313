"""Convolutional connect rules (``conv``, ``pool``): the realized synapses compute the convolution exactly, checked
against the scalar oracle written from the definition (tests/oracles/conv.py) over random geometries."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neuromap.errors import NetworkFormatError
from neuromap.network import Network
from tests.helpers.strategies import conv_geometries, conv_out_size, conv_spec
from tests.oracles import conv as oracle


def _net(geo, kernel, seed=0):
    n_in = int(np.prod(geo["in_shape"]))
    net = Network(seed=seed)
    net.add_population("a", n_in, "poisson", rate=1.0)
    net.add_population("b", conv_out_size(geo), "lif")
    net.connect("a", "b", conv_spec(geo, kernel))
    return net


def _kernel(geo, rng):
    c_in = geo["in_shape"][0]
    return rng.integers(-5, 6, (geo["out_channels"], c_in // geo["groups"]) + tuple(geo["kernel_size"])
                        ).astype(float)


@settings(max_examples=60, deadline=None)
@given(conv_geometries(), st.integers(0, 2 ** 31))
def test_conv_synapses_equal_the_oracle(geo, seed):
    rng = np.random.default_rng(seed)
    kernel = _kernel(geo, rng)
    net = _net(geo, kernel)
    pr = net.projections[0]
    c, h, w = (geo["in_shape"][0], 1, geo["in_shape"][1]) if geo["one_d"] else geo["in_shape"]
    x = rng.integers(-3, 4, (c, h, w))
    want = oracle.flatten(oracle.conv2d(x.tolist(), kernel.astype(int).tolist(), geo["stride"], geo["padding"],
                                        geo["dilation"], geo["groups"]))
    got = pr.dense_weights(c * h * w, len(want)) @ x.reshape(-1)
    assert got.tolist() == want
    # one synapse per (post, tap inside the input), post-major with pre ascending, no duplicate pair
    key = pr.post_idx * (c * h * w) + pr.pre_idx
    assert np.all(np.diff(key) > 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(2, 8), st.integers(2, 8), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.integers(0, 2 ** 31))
def test_pool_is_a_depthwise_sum(c, h, w, k, s, pad, seed):
    if h + 2 * pad < k or w + 2 * pad < k:
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, (c, h, w))
    want = oracle.flatten(oracle.sum_pool2d(x.tolist(), (k, k), (s, s), (pad, pad)))
    net = Network()
    net.add_population("a", c * h * w, "poisson", rate=1.0)
    net.add_population("b", len(want), "lif")
    net.connect("a", "b", {"rule": "pool", "in_shape": [c, h, w], "kernel_size": k, "stride": s, "padding": pad},
                weight=1.0)
    got = net.projections[0].dense_weights(c * h * w, len(want)) @ x.reshape(-1)
    assert got.tolist() == want


def test_hand_computed_conv1d():
    # in [1, 5] = 1 2 3 4 5, kernel [1, 0, -1], padding 1: out[i] = x[i-1] - x[i+1]
    net = Network()
    net.add_population("a", 5, "poisson", rate=1.0)
    net.add_population("b", 5, "lif")
    net.connect("a", "b", {"rule": "conv", "in_shape": [1, 5], "kernel": [[[1.0, 0.0, -1.0]]], "padding": 1})
    got = net.projections[0].dense_weights(5, 5) @ np.arange(1.0, 6.0)
    assert got.tolist() == [-2.0, -2.0, -2.0, -2.0, 4.0]


def test_dict_round_trip_and_geometry():
    rng = np.random.default_rng(1)
    net = Network(seed=2)
    net.add_population("a", 2 * 6 * 6, "poisson", rate=5.0)
    net.add_population("b", 4 * 3 * 3, "lif")
    net.add_population("c", 4, "lif")
    net.connect("a", "b", {"rule": "conv", "in_shape": [2, 6, 6], "kernel": rng.normal(size=(4, 1, 3, 3)),
                           "stride": 2, "padding": 1, "groups": 2})
    net.connect("b", "c", {"rule": "pool", "in_shape": [4, 3, 3], "kernel_size": 2}, weight=0.25)
    again = Network.from_dict(net.to_dict())
    assert again == net
    g = net.projections[0].spec["geometry"]
    assert g.out_shape == (4, 3, 3) and g.groups == 2 and g.kernel_shape == (4, 1, 3, 3)


@pytest.mark.parametrize("connect, size, needle", [
    ({"rule": "conv", "in_shape": [1, 4, 4], "kernel": np.ones((2, 1, 3, 3))}, 9, "size the post population 8"),
    ({"rule": "conv", "in_shape": [2, 4, 4], "kernel": np.ones((2, 1, 3, 3))}, 8, "in_shape"),
    ({"rule": "conv", "in_shape": [1, 4, 4], "kernel": np.ones((2, 1, 3, 3)), "stride": 0}, 8, "stride"),
    ({"rule": "conv", "in_shape": [1, 4, 4], "kernel": np.ones((2, 1, 5, 5))}, 8, "does not fit"),
    ({"rule": "conv", "in_shape": [1, 4, 4], "kernel": np.ones((2, 1, 3, 3)), "bias": 1}, 8, "unknown parameter"),
    ({"rule": "pool", "in_shape": [1, 4, 4]}, 4, "kernel_size"),
])
def test_bad_conv_specs_are_one_line_errors(connect, size, needle):
    net = Network()
    net.add_population("a", 16 if connect["in_shape"][0] == 1 else 32, "poisson", rate=1.0)
    net.add_population("b", size, "lif")
    with pytest.raises(NetworkFormatError) as e:
        net.connect("a", "b", connect, weight=1.0 if connect["rule"] == "pool" else None)
    assert needle in str(e.value) and "\n" not in str(e.value)
