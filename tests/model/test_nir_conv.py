"""NIR Conv1d/Conv2d/SumPool2d/AvgPool2d/Scale/Flatten import (neuromap/nir_conv.py): every projection computes the
graph's linear map exactly (the direct-loop oracle, tests/oracles/conv.py), single convolutions (a pooling merged
into the convolution after it) become shared-weight ``conv`` rules, other chains explicit synapses."""
from __future__ import annotations

import nir
import numpy as np
import pytest

from neuromap.errors import NetworkFormatError
from neuromap.nir_io import network_from_nir, read_nir
from tests.oracles import conv as oracle


def _if(shape):
    return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape))


def _graph(rng, side=8, pool="SumPool2d", scale=None):
    k1 = rng.integers(-3, 4, (4, 1, 3, 3)).astype(float)
    k2 = rng.integers(-3, 4, (6, 4, 3, 3)).astype(float)
    h2 = (side // 2 + 2 - 3) // 2 + 1
    wd = rng.integers(-3, 4, (5, 6 * h2 * h2)).astype(float)
    pool_node = getattr(nir, pool)(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    nodes = {"input": nir.Input(input_type={"input": np.array([1, side, side])}),
             "c1": nir.Conv2d(input_shape=(side, side), weight=k1, stride=1, padding=1, dilation=1, groups=1,
                              bias=np.zeros(4)),
             "l1": _if((4, side, side)), "p1": pool_node,
             "c2": nir.Conv2d(input_shape=(side // 2, side // 2), weight=k2, stride=2, padding=1, dilation=1,
                              groups=1, bias=np.full(6, 0.5)),
             "l2": _if((6, h2, h2)), "f": nir.Flatten(start_dim=0, input_type={"input": np.array([6, h2, h2])}),
             "d": nir.Affine(weight=wd, bias=np.zeros(5)), "l3": _if((5,)),
             "output": nir.Output(output_type={"output": np.array([5])})}
    edges = [("input", "c1"), ("c1", "l1"), ("l1", "p1"), ("p1", "c2"), ("c2", "l2"), ("l2", "f"), ("f", "d"),
             ("d", "l3"), ("l3", "output")]
    if scale is not None:
        nodes["s"] = nir.Scale(scale=scale)
        edges[0:2] = [("input", "s"), ("s", "c1"), ("c1", "l1")]
    return nir.NIRGraph(nodes=nodes, edges=edges), k1, k2, wd


def _apply(net, name, x):
    pr = next(p for p in net.projections if p.name == name)
    n_pre, n_post = net.populations[pr.pre].size, net.populations[pr.post].size
    return pr.dense_weights(n_pre, n_post) @ x.reshape(-1), pr


@pytest.mark.parametrize("side, pool, shared", [(8, "SumPool2d", True), (10, "SumPool2d", True),
                                                (8, "AvgPool2d", True), (9, "SumPool2d", True)])
def test_conv_graph_projections_equal_the_oracle(side, pool, shared):
    rng = np.random.default_rng(side)
    g, k1, k2, wd = _graph(rng, side, pool)
    net = network_from_nir(g, dt=1.0, time_unit_ms="step")     # IF gain r * dt_n = 1: weights as written
    x = rng.integers(0, 3, (1, side, side))
    got, pr = _apply(net, "c1", x)
    assert got.tolist() == oracle.flatten(oracle.conv2d(x.tolist(), k1.tolist(), padding=(1, 1)))
    assert pr.spec["connect"]["rule"] == "conv"
    y = rng.integers(0, 3, (4, side, side))
    pooled = oracle.sum_pool2d(y.tolist(), (2, 2))
    if pool == "AvgPool2d":
        pooled = [[[v / 4 for v in row] for row in plane] for plane in pooled]
    got, pr = _apply(net, "p1", y)
    want = oracle.flatten(oracle.conv2d(pooled, k2.tolist(), stride=(2, 2), padding=(1, 1)))
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    # a pool followed by a convolution is one convolution when the input sides are multiples of the window
    assert (pr.spec["connect"]["rule"] == "conv") == (side % 2 == 0 and shared)
    assert net.populations["l2"].neuron["bias"] == 0.5           # Conv2d bias, one per output channel
    z = rng.integers(0, 3, wd.shape[1])
    assert _apply(net, "d", z)[0].tolist() == (wd @ z).tolist()


def test_scale_per_channel_folds_into_the_kernel_and_file_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    g, k1, _, _ = _graph(rng, 8, scale=np.full((1, 8, 8), 2.0))
    nir.write(tmp_path / "c.nir", g)
    net = read_nir(tmp_path / "c.nir", dt=1.0, time_unit_ms="step")
    x = rng.integers(0, 3, (1, 8, 8))
    got, pr = _apply(net, "s", x)
    assert got.tolist() == oracle.flatten(oracle.conv2d((2 * x).tolist(), k1.tolist(), padding=(1, 1)))
    assert pr.spec["connect"]["rule"] == "conv"


def test_conv1d_and_unknown_shapes():
    w = np.array([[[1.0, 0.0, -1.0]]])
    nodes = {"input": nir.Input(input_type={"input": np.array([1, 5])}),
             "c": nir.Conv1d(input_shape=5, weight=w, stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(1)),
             "l": _if((1, 5)), "output": nir.Output(output_type={"output": np.array([1, 5])})}
    net = network_from_nir(nir.NIRGraph(nodes=nodes, edges=[("input", "c"), ("c", "l"), ("l", "output")]),
                           dt=1.0, time_unit_ms="step")
    assert _apply(net, "c", np.arange(1.0, 6.0))[0].tolist() == [-2.0, -2.0, -2.0, -2.0, 4.0]
    nodes = {"input": nir.Input(input_type={"input": np.array([16])}),
             "p": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
             "l": _if((4,)), "output": nir.Output(output_type={"output": np.array([4])})}
    with pytest.raises(NetworkFormatError, match="input shape is unknown") as e:
        network_from_nir(nir.NIRGraph(nodes=nodes, edges=[("input", "p"), ("p", "l"), ("l", "output")],
                                      type_check=False))
    assert "\n" not in str(e.value)


def test_layers_with_scalar_parameters_take_the_shape_their_input_path_reached():
    # Norse 1.1 writes scalar neuron parameters and no Conv2d.input_shape after the first layer (nir 1.0.4's type
    # inference types such nodes []): the path out of 'l1' starts at the (4, 6, 6) the path into it reached;
    # nodes listed out of order (the trace goes breadth-first from the Input)
    rng = np.random.default_rng(7)
    k1 = rng.integers(-3, 4, (4, 2, 3, 3)).astype(float)
    k2 = rng.integers(-3, 4, (3, 4, 3, 3)).astype(float)
    scalar_if = nir.IF(r=np.array(1.0), v_threshold=np.array(1.0), v_reset=np.array(0.0))
    nodes = {"l2": scalar_if,
             "c2": nir.Conv2d(input_shape=np.array([]), weight=k2, stride=2, padding=0, dilation=1, groups=1,
                              bias=np.zeros(3)),
             "l1": nir.IF(r=np.array(1.0), v_threshold=np.array(1.0), v_reset=np.array(0.0)),
             "c1": nir.Conv2d(input_shape=None, weight=k1, stride=1, padding=0, dilation=1, groups=1,
                              bias=np.zeros(4)),
             "input": nir.Input(input_type={"input": np.array([2, 8, 8])}),
             "output": nir.Output(output_type={"output": np.array([3, 2, 2])})}
    edges = [("input", "c1"), ("c1", "l1"), ("l1", "c2"), ("c2", "l2"), ("l2", "output")]
    net = network_from_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=1.0, time_unit_ms="step")
    assert net.populations["l1"].size == 4 * 6 * 6 and net.populations["l2"].size == 3 * 2 * 2
    y = rng.integers(0, 3, (4, 6, 6))
    got, pr = _apply(net, "c2", y)
    assert got.tolist() == oracle.flatten(oracle.conv2d(y.tolist(), k2.tolist(), stride=(2, 2)))
    assert pr.spec["connect"]["rule"] == "conv"
