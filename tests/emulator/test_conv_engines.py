"""Images with shared-weight convolutions (kernel + geometry, expanded where explicit synapses are needed) run on
every engine -- the emulator's numpy and numba engines and Lava 0.10 fixed_pt through the Lava backend -- with the
integers of the scalar core oracle (tests/oracles/loihi_core.py) run on the explicit expansion, every step."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from neuromap.conv_geometry import expand
from neuromap.toolchain import compile_network
from tests.helpers.conv_nets import hw_conv_net
from tests.helpers.strategies import conv_geometries
from tests.oracles import loihi_core

STEPS = 30


def test_conv_images_equal_the_oracle_every_step(engine):
    fired = []

    @settings(max_examples=engine.examples(8, lava=2), deadline=None, derandomize=True)
    @given(conv_geometries(max_side=5), st.integers(0, 10 ** 6))
    def check(geo, seed):
        net, _ = hw_conv_net(geo, seed, steps=STEPS, vth=20)
        img = compile_network(net, "loihi", placer="greedy", rate_check="never").image
        assert img.convs
        ref = loihi_core.run(expand(img), STEPS)
        got = engine.run(img, STEPS)
        assert np.array_equal(got.spikes, ref.spikes)
        assert np.array_equal(got.u, ref.u)
        assert np.array_equal(got.v, ref.v)
        fired.append(int(np.count_nonzero(ref.spikes[:, 1] < img.n_neurons)))
    check()
    assert sum(fired) > 0         # neurons spiked: the comparison is not vacuous
