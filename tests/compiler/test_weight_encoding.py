"""Hardware-unit weights the synapse memory cannot hold as given: clipped/truncated exactly as Lava does
(neuromap.image.encode_weights), through the default pipeline too, with a warning in the image options."""
from __future__ import annotations

import numpy as np

from neuromap.toolchain import compile_network
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
        img = compile_network(_net([300, 5, -7, 2]), **kw).image
        assert img.synapses["weight"].tolist() == [252, 4, -8, 0]     # clip to 255, drop 2 LSBs (floor)
        assert img.synapses["weight"].tolist() == encode_weights(np.array([300, 5, -7, 2]), "mixed", 7).tolist()
        (note,) = img.options["weight_encoding"]
        assert "projections[0] (a_to_b)" in note and "1 clipped to [-256, 255]" in note
        assert "3 truncated to multiples of 4" in note


def test_representable_weights_give_no_warning():
    img = compile_network(_net([252, 4, -8, 0])).image
    assert "weight_encoding" not in img.options
    img = compile_network(_net([-3, -255, 0, -1], bits=8, sign_mode="inhibitory")).image
    assert "weight_encoding" not in img.options


def test_compile_and_inspect_print_the_warnings(tmp_path):
    """neuromap compile prints every recorded warning on stderr (and in --json); inspect repeats them."""
    import json

    from click.testing import CliRunner

    from neuromap.cli import cli
    from neuromap.io import save_network
    src = tmp_path / "wide.yaml"
    save_network(_net([300, 5, -7, 2]), src)
    r = CliRunner(mix_stderr=False).invoke(cli, ["compile", str(src), "-o", str(tmp_path / "b"), "-q"])
    assert r.exit_code == 0, r.output
    assert "warning: projections[0] (a_to_b): 1 clipped" in r.stderr
    r = CliRunner(mix_stderr=False).invoke(cli, ["compile", str(src), "-o", str(tmp_path / "b"), "-q", "--json"])
    assert any("1 clipped" in w for w in json.loads(r.stdout)["warnings"])
    r = CliRunner(mix_stderr=False).invoke(cli, ["inspect", str(tmp_path / "b")])
    assert "warning: projections[0] (a_to_b): 1 clipped" in r.stdout
