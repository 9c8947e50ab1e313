"""Shared-weight convolutions in Lava: ``lava.proc.conv`` processes (Lava 0.10 fixed_pt ``Conv``, fed (W, H, C) views
of the groups' spikes, kernel flipped: Lava's conv is a true convolution) run the emulator's integers every step, on
geometries with stride, padding, dilation, groups and Conv1d; a positive weight exponent is folded into the Conv
weights; what Lava's Conv cannot run exactly (a delay, a negative weight exponent) is expanded into Sparse/Dense."""
from __future__ import annotations

import numpy as np
import pytest

from backends.lava.plan import plan_image
from neuromap.toolchain import compile_network
from tests.helpers.conv_nets import hw_conv_net

GEOS = [
    {"in_shape": [2, 7, 6], "out_channels": 4, "kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0),
     "dilation": (1, 2), "groups": 2, "one_d": False},
    {"in_shape": [3, 9], "out_channels": 2, "kernel_size": (1, 3), "stride": (1, 2), "padding": (0, 2),
     "dilation": (1, 1), "groups": 1, "one_d": True},
    {"in_shape": [1, 6, 6], "out_channels": 3, "kernel_size": (3, 3), "stride": (1, 1), "padding": (2, 2),
     "dilation": (2, 2), "groups": 1, "one_d": False},
]


def test_plan_uses_lava_conv_only_where_it_is_exact():
    img = compile_network(hw_conv_net(GEOS[0], 1)[0], "loihi", placer="greedy", rate_check="never").image
    plan = plan_image(img)
    assert [c.proj for c in plan.conv_connections] == [0]          # conv2 has delay 2: expanded
    assert {c.proj for c in plan.connections} == {1}
    assert plan_image(img, lava_conv=False).conv_connections == []


@pytest.mark.lava
@pytest.mark.parametrize("k, weight_exp", [(0, 0), (1, 0), (2, 0), (0, 3)])
def test_lava_conv_equals_the_emulator(k, weight_exp):
    pytest.importorskip("lava", reason="needs lava-nc")
    from backends.lava.run import run_lava_raw
    from emulator import emulate
    net = hw_conv_net(GEOS[k], k, steps=25, vth=20 << weight_exp, weight_exp=weight_exp)[0]
    img = compile_network(net, "loihi", placer="greedy", rate_check="never").image
    assert plan_image(img).conv_connections
    probe = np.arange(img.n_neurons)
    lava = run_lava_raw(img, 25, probe=probe)
    emu = emulate(img, 25, probe=probe)
    assert np.array_equal(lava.events(), emu.spikes)
    assert np.array_equal(lava.u, emu.u) and np.array_equal(lava.v, emu.v)
    assert np.count_nonzero(emu.spikes[:, 1] < img.n_neurons) > 0
