"""Lava's fixed_pt LIF, neuromap's fixed_pt refractory LIF and Lava's Sparse/DelaySparse delivery (the
Lava backend's plumbing: processes, ports, delays, weight exponents) against the independent scalar core
oracle of tests/oracles, not against the emulator: spikes, u and v of every neuron every step, on random
hardware-unit networks with neuron constants over their full ranges."""
from __future__ import annotations

import numpy as np
import pytest
from tests.oracles import loihi_core
from tests.oracles.cases import core_net, stress

from backends.lava.compat import lava_available
from neuromap.compiler import compile_network


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
@pytest.mark.parametrize("net_seed,stress_seed", [(4, None), (10, 2)])
def test_lava_equals_core_oracle_every_step(net_seed, stress_seed):
    from backends.lava.run import run_lava_raw
    img = compile_network(core_net(net_seed), passes=["check_hw_units", "partition", "lower"])
    if stress_seed is not None:
        img = stress(img, stress_seed, per_neuron_vth=False)
    steps = 40
    ref = loihi_core.run(img, steps)
    got = run_lava_raw(img, steps, probe=np.arange(img.n_neurons))
    assert np.array_equal(got.events(), ref.spikes)
    assert np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v)
    assert ref.spikes.shape[0] > 0 and np.any(ref.spikes[:, 1] < img.n_neurons)
