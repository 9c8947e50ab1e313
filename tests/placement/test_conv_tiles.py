"""Stacked spatial tiling of convolutional layers (neuromap/placement/conv_tiles.py): the order by hand, every
capacity kept, the tiles start beating id order on a conv chain, ``cpsat`` never worse than the tiles start, and
a compile with ``--placer tiles`` that runs as the default placement does."""
from __future__ import annotations

import numpy as np

from neuromap.compiler.place import conv_layers
from neuromap.network import Network
from neuromap.placement import SynapseGraph
from neuromap.placement.conv_tiles import ConvLayer, stack_order
from neuromap.placement.packing import core_usage_ok
from neuromap.placement.partition import partition
from neuromap.placement.traffic import inter_core_packets, uniform_rates
from neuromap.targets import load_target
from neuromap.toolchain import compile_network, emulator_runner


def test_stack_order_by_hand():
    # neurons 0..3: a (1, 2, 2) layer; 4..11: a (2, 2, 2) layer; 12, 13: no shape. nb = 2: four tiles, one pixel
    # of each layer per tile, channels in order within a tile; the unshaped neurons last
    order = stack_order(14, [ConvLayer(0, (1, 2, 2)), ConvLayer(4, (2, 2, 2))], 2)
    assert order.tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 12, 13]
    # nb = 1: one tile, layer by layer
    assert stack_order(14, [ConvLayer(0, (1, 2, 2)), ConvLayer(4, (2, 2, 2))], 1).tolist() == list(range(14))
    # layers of different sides share tiles by their normalized position: a (1, 4, 4) and a (1, 2, 2) layer
    order = stack_order(20, [ConvLayer(0, (1, 4, 4)), ConvLayer(16, (1, 2, 2))], 2)
    assert order[:5].tolist() == [0, 1, 4, 5, 16]


def _conv_chain(side=16, seed=0):
    net = Network(name="chain", dt=1.0, seed=seed)
    rng = np.random.default_rng(seed)
    net.add_population("inp", side * side, "poisson", rate=20.0)
    hw = {"model": "loihi_lif", "du": 2048, "dv": 410, "vth": 300}
    net.add_population("c1", 8 * side * side, dict(hw))
    net.add_population("c2", 12 * (side // 2) ** 2, dict(hw))
    net.add_population("out", 5, dict(hw))
    net.connect("inp", "c1", {"rule": "conv", "in_shape": [1, side, side], "padding": 1,
                              "kernel": 2 * rng.integers(10, 60, (8, 1, 3, 3))}, weight_exp=0)
    net.connect("c1", "c2", {"rule": "conv", "in_shape": [8, side, side], "padding": 1, "stride": 2,
                             "kernel": 2 * rng.integers(-10, 30, (12, 8, 3, 3))}, weight_exp=0)
    net.connect("c2", "out", "all_to_all", weight={"uniform_int": [0, 40]}, weight_exp=0)
    for p in ("c1", "c2", "out"):
        net.add_probe(p, "spikes")
    return net


def test_tiles_keep_every_capacity_and_beat_id_order_on_a_conv_chain():
    net = _conv_chain()
    g, tgt = SynapseGraph.from_network(net), load_target("loihi")
    layers = conv_layers(net)
    assert [(la.start, la.shape) for la in layers] == [(0, (1, 16, 16)), (256, (8, 16, 16)), (2304, (12, 8, 8))]
    rates = uniform_rates(g.n_neurons)
    seq = partition(g, tgt, "sequential", rates)
    tiles = partition(g, tgt, "tiles", rates, conv_layers=layers)
    assert tiles.method == "tiles" and core_usage_ok(g, tgt, tiles.core_of)
    assert tiles.objective == inter_core_packets(g, tiles.core_of, rates) < seq.objective
    best = partition(g, tgt, "cpsat", rates, conv_layers=layers, time_limit=1.0)
    assert best.stats["tiles_objective"] == tiles.objective and best.objective <= tiles.objective
    # without conv layers, tiles is the sequential partition (said so)
    plain = partition(g, tgt, "tiles", rates)
    assert np.array_equal(plain.core_of, seq.core_of) and "sequential" in plain.stats["status"]


def test_compile_with_the_tiles_placer_runs_as_the_default_placement():
    net = _conv_chain()
    a = compile_network(net, "loihi", placer="tiles", deterministic=True, time_limit=1.0)
    b = compile_network(net, "loihi", placer="sequential")
    assert a.reports.placement.method == "tiles" and a.reports.placement.cores_used > 2
    assert a.reports.placement.inter_core_packets < b.reports.placement.inter_core_packets
    # the same network on other cores: the same spikes (source ids follow the populations, not the cores)
    sa, sb = emulator_runner(a.image, 40), emulator_runner(b.image, 40)
    assert len(sa) > 100 and np.array_equal(np.unique(sa, axis=0), np.unique(sb, axis=0))
