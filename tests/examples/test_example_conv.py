"""examples/conv_snn.py (2 conv + sum pool + dense on 28x28 inputs): shared weights take >= 10x less synapse memory
than explicit synapses on loihi, the chip's spike counts per layer stay close to the float reference, and the
hardware-unit variant runs bit-identically in Lava (a 12x12 input keeps the Lava run to seconds)."""
import os
import sys

import numpy as np
import pytest

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
sys.path.insert(0, EX)
import conv_snn  # noqa: E402

from neuromap.conv_geometry import expand, memory_report  # noqa: E402
from neuromap.simulator import simulate  # noqa: E402
from neuromap.toolchain import compile_network, emulator_runner  # noqa: E402


@pytest.fixture(scope="module")
def compiled():
    net = conv_snn.build()
    return net, compile_network(net, "loihi", placer="greedy", rate_check="never").image


def test_shared_weights_take_ten_times_less_synapse_memory(compiled):
    net, img = compiled
    assert [img.projections[c.projection].name for c in img.convs] == ["conv1", "conv2", "pool"]
    assert img.n_synapses == net.projections[3].n_synapses == 10 * 784     # only the dense layer is explicit
    rep = memory_report(img)
    assert sum(r["synapses"] for r in rep["conv"]) == sum(p.n_synapses for p in net.projections[:3])
    assert rep["ratio"] >= 10.0                      # measured 11.8 (population axons)
    assert rep["discrete_axon_ratio"] >= 4.0         # measured 4.9 (one word per discrete axon)
    assert expand(img).n_synapses == sum(p.n_synapses for p in net.projections)


def test_chip_follows_the_float_reference(compiled):
    net, img = compiled
    steps = 100
    ref = simulate(net, steps)
    chip = emulator_runner(img, steps)
    for layer in conv_snn.LAYERS:
        n_ref = ref.spikes[layer][0].size
        n_chip = int(np.isin(chip[:, 1], img.source_ids(img.population(layer))).sum())
        assert n_ref > 0 and abs(n_chip - n_ref) <= 0.05 * n_ref + 3, (layer, n_ref, n_chip)


@pytest.mark.lava
def test_hardware_units_run_bit_identically_in_lava():
    pytest.importorskip("lava", reason="needs lava-nc")
    from backends.lava.run import run_lava_raw
    from emulator import emulate
    img = compile_network(conv_snn.build(units="hw", side=12), "loihi", placer="greedy", rate_check="never").image
    assert len(img.convs) == 3
    from backends.lava.plan import plan_image
    assert len(plan_image(img).conv_connections) == 3     # all three run as lava.proc.conv Conv processes
    steps = 20
    probe = np.arange(0, img.n_neurons, 7)
    lava = run_lava_raw(img, steps, probe=probe)
    emu = emulate(img, steps, probe=probe)
    assert np.array_equal(lava.events(), emu.spikes)
    assert np.array_equal(lava.u, emu.u) and np.array_equal(lava.v, emu.v)
    assert np.count_nonzero(emu.spikes[:, 1] < img.n_neurons) > 100     # the layers spike
