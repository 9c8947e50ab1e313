"""A small convolutional SNN on 28x28 inputs: 2 conv + sum pool + dense, with shared weights on the chip.

``input`` (1 x 28 x 28 Poisson pixels, a bright ring on a dim background) -> ``conv1`` (8 channels, 3x3, padding 1)
-> ``conv2`` (16 channels, 3x3, stride 2, padding 1: 16 x 14 x 14) -> ``pool`` (2x2 sum pooling: 16 x 7 x 7)
-> ``dense`` (10 neurons, all-to-all). The three convolutional projections use the ``conv`` / ``pool`` connect rules
(docs/network-format.md); compiled for ``loihi`` they are stored as kernel + geometry (docs/image-format.md,
*Convolutions*), and the compile reports the synapse memory they take against explicit synapses.

``units="hw"`` builds the same network in hardware units (``loihi_lif`` neurons, integer kernels): then the
float reference simulator, the emulator and Lava compute the same integers.

``python examples/conv_snn.py [steps]``: compiles for loihi, prints the memory report, and compares the chip's spike
counts per layer with the float reference.
"""
from __future__ import annotations

import sys

import numpy as np

import neuromap

SIDE = 28
LAYERS = ("conv1", "conv2", "pool", "dense")


def ring_rates(side: int = SIDE, hi: float = 200.0, lo: float = 5.0) -> np.ndarray:
    """Poisson rates (Hz) of the input pixels: a ring of radius side/3 at ``hi`` on a background at ``lo``."""
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    r = np.hypot(y, x)
    return np.where(np.abs(r - side / 3) < 2.0, hi, lo).reshape(-1)


def kernels(seed: int = 0, units: str = "float") -> dict[str, np.ndarray]:
    """conv1 (8, 1, 3, 3) edge-like kernels and conv2 (16, 8, 3, 3), dense (10, 784); float or integer."""
    rng = np.random.default_rng(seed)
    k1 = rng.normal(0.0, 1.0, (8, 1, 3, 3))
    k1 += 1.0 - k1.mean(axis=(1, 2, 3), keepdims=True)          # mostly excitatory
    k2 = rng.normal(0.15, 0.5, (16, 8, 3, 3))
    wd = rng.normal(0.1, 0.3, (10, 16 * 7 * 7))
    if units == "hw":
        return {"conv1": np.rint(k1 * 40).clip(-256, 254).astype(np.int64) // 2 * 2,
                "conv2": np.rint(k2 * 24).clip(-256, 254).astype(np.int64) // 2 * 2,
                "dense": np.rint(wd * 30).clip(-256, 254).astype(np.int64) // 2 * 2}
    return {"conv1": k1 * 0.6, "conv2": k2 * 0.5, "dense": wd * 1.0}


def build(seed: int = 3, units: str = "float", side: int = SIDE) -> neuromap.Network:
    """The network (``units``: ``float`` lif neurons, or ``hw`` loihi_lif neurons with integer weights)."""
    net = neuromap.Network(name=f"conv_snn_{units}", dt=1.0, seed=seed)
    net.add_population("input", side * side, "poisson", rate=ring_rates(side))
    if units == "hw":
        neuron = {"model": "loihi_lif", "du": 2048, "dv": 410, "vth": 400}
        pool_w, hw = 64, {"weight_exp": 0}
    else:
        neuron = {"model": "lif", "tau_m": 10.0, "tau_syn": 2.0, "v_th": 1.0, "v_reset": 0.0}
        pool_w, hw = 2.0, {}
    h2 = (side + 2 - 3) // 2 + 1
    net.add_population("conv1", 8 * side * side, dict(neuron))
    net.add_population("conv2", 16 * h2 * h2, dict(neuron))
    net.add_population("pool", 16 * (h2 // 2) ** 2, dict(neuron))
    net.add_population("dense", 10, dict(neuron))
    k = kernels(seed, units)
    net.connect("input", "conv1", {"rule": "conv", "in_shape": [1, side, side], "kernel": k["conv1"], "padding": 1},
                name="conv1", **hw)
    net.connect("conv1", "conv2", {"rule": "conv", "in_shape": [8, side, side], "kernel": k["conv2"], "padding": 1,
                                   "stride": 2}, name="conv2", **hw)
    net.connect("conv2", "pool", {"rule": "pool", "in_shape": [16, h2, h2], "kernel_size": 2}, weight=pool_w,
                name="pool", **hw)
    wd = k["dense"][:, : 16 * (h2 // 2) ** 2]
    net.connect("pool", "dense", {"rule": "matrix", "matrix": wd}, name="dense", **hw)
    for layer in LAYERS:
        net.add_probe(layer, "spikes")
    return net


def main(steps: int = 200) -> dict:
    from neuromap.conv_geometry import memory_report
    from neuromap.simulator import simulate
    from neuromap.toolchain import compile_network, emulator_runner

    net = build()
    res = compile_network(net, "loihi", placer="greedy")
    img = res.image
    mem = memory_report(img)
    print(f"{net.name}: {img.n_neurons} neurons on {img.n_cores} cores, {len(img.convs)} shared-weight projections")
    for row in mem["conv"]:
        print(f"  {row['projection']:6s} {row['synapses']:7d} synapses from {row['kernel_weights']:5d} kernel weights, "
              f"{row['input_axons']:6d} input axons ({row['population_axons']} population axons)")
    print(f"  synapse memory {mem['synapse_memory_bits']} bits shared vs {mem['explicit_synapse_memory_bits']} "
          f"explicit: {mem['ratio']:.1f}x less")
    ref = simulate(net, steps)
    chip = emulator_runner(img, steps)
    ids = {p.name: img.source_ids(p) for p in img.populations}
    out = {"memory": mem, "float": {}, "chip": {}}
    for layer in LAYERS:
        n_ref = int(ref.spikes[layer][0].size)
        n_chip = int(np.isin(chip[:, 1], ids[layer]).sum())
        out["float"][layer], out["chip"][layer] = n_ref, n_chip
        print(f"  {layer:6s} float reference {n_ref:7d} spikes, chip {n_chip:7d}")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
