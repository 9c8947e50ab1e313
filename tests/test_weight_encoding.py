"""Hardware-unit weights the synapse memory cannot hold as given: clipped/truncated exactly as Lava does
(neuromap.image.encode_weights), through the default pipeline too, with a warning in the image options."""
from __future__ import annotations

import numpy as np

from neuromap.compiler import compile_network
from neuromap.image import encode_weights
from neuromap.network import Network


def _net(weights, bits=7, sign_mode="mixed"):
    net = Network(seed=1)
    net.add_population("a", 2, neuron="loihi_lif", vth=10, bias_mant=100)
    net.add_population("b", 2, neuron="loihi_lif", vth=10)
    net.connect("a", "b", connect={"rule": "list", "pre": [0, 0, 1, 1], "post": [0, 1, 0, 1]}, weight=weights,
                weight_exp=0, num_weight_bits=bits, sign_mode=sign_mode)
    return net


def test_out_of_format_weights_compile_like_lava_with_a_warning():
    for passes in (None, ["check_hw_units", "partition", "lower"]):   # default pipeline and hw-only passes
        kw = {} if passes is None else {"passes": passes}
        img = compile_network(_net([300, 5, -7, 2]), **kw)
        assert img.synapses["weight"].tolist() == [252, 4, -8, 0]     # clip to 255, drop 2 LSBs (floor)
        assert img.synapses["weight"].tolist() == encode_weights(np.array([300, 5, -7, 2]), "mixed", 7).tolist()
        (note,) = img.options["weight_encoding"]
        assert "projections[0] (a_to_b)" in note and "1 clipped to [-256, 255]" in note
        assert "3 truncated to multiples of 4" in note


def test_representable_weights_give_no_warning():
    img = compile_network(_net([252, 4, -8, 0]))
    assert "weight_encoding" not in img.options
    img = compile_network(_net([-3, -255, 0, -1], bits=8, sign_mode="inhibitory"))
    assert "weight_encoding" not in img.options
