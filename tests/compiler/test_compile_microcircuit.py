"""Smoke test of issue 16 item 6: the Potjans & Diesmann microcircuit (examples/microcircuit.py) at scale 0.1
(7717 neurons, 3.0 M synapses) compiles for the board target examples/targets/loihi_microcircuit.toml through
every pass and verifier; the image holds every synapse of the network once and every core fits the target.
Larger scales (up to what fits in 24 GB) are measured by ``bench/microcircuit.py --compile-only``."""
import dataclasses
import os
import sys

import numpy as np

from emulator import emulate
from neuromap.compiler.fan_out import RELAY_SUFFIX, fan_out, legalize_fan_out
from neuromap.compiler.place import verify_image_capacities
from neuromap.placement.graph import SynapseGraph
from neuromap.targets import load_target
from neuromap.toolchain import compile_network
from tests.helpers.images import population_spikes

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "examples"))
import microcircuit as mc  # noqa: E402


def test_scale_01_compiles_for_the_board():
    net = mc.build(0.1)
    target = load_target(os.path.join(ROOT, "examples", "targets", "loihi_microcircuit.toml"))
    res = compile_network(net, target, placer="sequential", rate_check="never")
    img = res.image
    distinct = SynapseGraph.from_network(net).n_synapses     # repeated pairs merged, as the image does
    assert img.n_synapses == distinct > 2_900_000
    assert img.n_neurons == sum(net.populations[p].size for p in mc.POPS) == 7717
    assert 300 < img.n_cores <= target.n_cores
    assert verify_image_capacities(img, target) == []
    # every neuron in exactly one compartment, cores in board order of the sequential placer
    key = img.neurons["core"].astype(np.int64) * target.core.max_neurons + img.neurons["slot"]
    assert np.unique(key).size == img.n_neurons
    assert [r.name for r in res.passes if r.kind == "pass"][-2:] == ["place", "lower"]


def test_fan_out_relays_keep_the_spikes():
    """legalize_fan_out (neuromap/compiler/fan_out.py) on the microcircuit at scale 0.02 with a 40-axon output
    limit: thousands of relays, the original neurons' spikes on the emulator identical to the unrelayed network's
    (Poisson drive, recurrent, delays >= 1 step; every delay-1 unit fits the direct budget here)."""
    target = load_target(os.path.join(ROOT, "examples", "targets", "loihi_microcircuit.toml"))
    q = compile_network(mc.build(0.02), target, placer="sequential", rate_check="never").quantized_network
    small = dataclasses.replace(target, core=dataclasses.replace(target.core, max_output_axons=40))
    legal, rep = legalize_fan_out(q, small)
    assert rep.relay_neurons > 1000 and rep.late_synapses == 0
    assert all(fan_out(legal, p).max() <= 40 for p, pop in legal.populations.items() if pop.model == "loihi_lif")

    def spikes(net):
        img = compile_network(net, target, passes=["check_hw_units", "place", "lower"], placer="sequential").image
        return population_spikes(img, emulate(img, 1500).spikes, RELAY_SUFFIX)
    ref = spikes(q)
    assert len(ref) > 300 and spikes(legal) == ref
