"""Every example network that compiles for Loihi runs identically in Lava (fixed_pt) and on the emulator.

Compiled with the real compiler and compared with ``neuromap.validate`` (spikes every step; u and v of
every neuron, or of the image's probes). Small examples run by default; the larger ones are ``slow``.
"""
from __future__ import annotations

import os

import pytest

from backends.lava.compat import lava_available

pytestmark = [pytest.mark.lava, pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")]
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


@pytest.mark.parametrize("name, steps, probe_all", [
    ("lava_port_hw", 150, True),
    ("pool_neuron", 100, False),          # its probe records spikes only
    pytest.param("ramp_lif", 300, True, marks=pytest.mark.slow),
    pytest.param("balanced_ei", 200, True, marks=pytest.mark.slow),
])
def test_example_is_identical_in_lava(name, steps, probe_all):
    from neuromap.toolchain import compile_network
    from neuromap.io import load_network
    from neuromap.validate import validate_image

    img = compile_network(load_network(os.path.join(EXAMPLES, f"{name}.yaml"))).image
    line = validate_image(img, steps, probe_all=probe_all)
    assert line.startswith(f"identical: {steps} steps, ")
    assert int(line.split(", ")[1].split()[0]) > 0      # the comparison saw spikes
