"""Smoke test of issue 16 item 6: the Potjans & Diesmann microcircuit (examples/microcircuit.py) at scale 0.1
(7717 neurons, 3.0 M synapses) compiles for the board target examples/targets/loihi_microcircuit.toml through
every pass and verifier; the image holds every synapse of the network once and every core fits the target.
Larger scales (up to what fits in 24 GB) are measured by ``bench/microcircuit.py --compile-only``."""
import dataclasses
import os
import sys

import numpy as np
import pytest

from emulator import emulate
from neuromap.compiler.fan_out import RELAY_SUFFIX, fan_out, legalize_fan_out
from neuromap.compiler.place import verify_image_capacities
from neuromap.errors import TargetError
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


def test_release_input_gives_the_same_image_and_frees_the_network():
    """``compile_network(..., release_input=True)`` (the benchmark's full-scale path): the same image bytes as the
    default with fan-in and fan-out relays made (input and output-axon limits cut so both legalizations run),
    the input network's projections emptied, no quantized network kept; the default leaves the network as given
    and ``rate_check='always'`` is refused with release_input."""
    target = load_target(os.path.join(ROOT, "examples", "targets", "loihi_microcircuit.toml"))
    small = dataclasses.replace(target, core=dataclasses.replace(target.core, max_output_axons=60,
                                                                 max_input_axons=100))
    kept = mc.build(0.02)
    n_proj = len(kept.projections)
    ref = compile_network(kept, small, placer="sequential", rate_check="never")
    assert len(kept.projections) == n_proj and ref.quantized_network is not None
    assert ref.record("legalize_fan_in").statistics[0].value > 0      # relay neurons made
    assert ref.record("legalize_fan_out").statistics[0].value > 0
    given = mc.build(0.02)
    out = compile_network(given, small, placer="sequential", rate_check="never", release_input=True)
    assert given.projections == [] and out.quantized_network is None
    a, b = ref.image.arrays(), out.image.arrays()
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k
    def options(img):       # the recorded options and reports, less the placer's wall time
        timed = ("solve_time_s", "time_split_s")
        return {**img.options, "placement": {k: v for k, v in img.options["placement"].items() if k not in timed}}
    assert options(out.image) == options(ref.image)
    with pytest.raises(TargetError, match="release_input"):
        compile_network(mc.build(0.02), small, rate_check="always", release_input=True)
