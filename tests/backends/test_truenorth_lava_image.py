"""TrueNorth images in Lava (custom TrueNorthCore process, fixed_pt) vs the emulator, through `validate`."""
import dataclasses

import pytest

from neuromap.toolchain import compile_network
from neuromap.io import load_network
from neuromap.network import Network
from neuromap.validate import validate_image

pytestmark = pytest.mark.lava


def test_validate_pool_neuron_on_truenorth():
    img = compile_network(load_network("examples/pool_neuron.yaml"), "truenorth", tn_time_limit=0.5).image
    msg = validate_image(img, 700, engine="numba", probe_all=True)
    assert msg.startswith("identical: 700 steps") and int(msg.split()[-2]) > 100


def test_validate_splitters_poisson_and_stochastic_leak():
    net = Network(name="fan", seed=5)
    net.add_population("inp", 4, {"model": "poisson", "rate": 300.0})
    net.add_population("relay", 3, "if", v_th=1.0, bias=0.05)
    net.add_population("big", 260, "if", v_th=2.0, leak=0.02)
    net.connect("inp", "relay", "all_to_all", weight={"uniform": [-0.3, 0.9]})
    net.connect("relay", "big", "all_to_all", weight=0.7, delay=2)
    img = compile_network(net, "truenorth", tn_time_limit=0.5).image
    assert img.options["truenorth"]["fanout"]["splitters"] == 6
    # stochastic leak and threshold mask on some neurons: Lava must draw the same random numbers
    nu = dict(img.neurons)
    nu["tn_c_lambda"] = nu["tn_c_lambda"].copy()
    nu["tn_c_lambda"][3:10] = 1
    nu["tn_TM"] = nu["tn_TM"].copy()
    nu["tn_TM"][5:20] = 3
    img = dataclasses.replace(img, neurons=nu)
    img.verify()
    msg = validate_image(img, 60, engine="numpy", probe_all=True)
    assert msg.startswith("identical: 60 steps")
    assert int(msg.split()[-2]) > 50
