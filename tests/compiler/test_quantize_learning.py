"""Quantize pass on plastic projections: float seed-rule parameters -> integer engine parameters."""
import json
import math
import os

import numpy as np
import pytest

import neuromap
from neuromap.compiler.quantize import QuantizationReport, quantize_network
from neuromap.errors import TargetError
from neuromap.io import load_network
from neuromap.targets import load_target

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.fixture(scope="module")
def loihi():
    return load_target("loihi")


def plastic(hw, name):
    return next(p for p in hw.projections if p.name == name)


def test_ramp_homeostatic_parameters_hand_computed(loihi):
    hw, rep = quantize_network(load_network(os.path.join(EX, "ramp_lif.yaml")), loihi)
    pr = plastic(hw, "inp_pop2")
    L, A = pr.hw["learning"], pr.hw["learning_arrays"]
    pq = next(p for p in rep.projections if p.name == "inp_pop2")
    ws = pq.learning["weight_scale"]
    assert L["engine"] == "homeostatic_stdp" and L["homeostasis"] and L["window"] == 5000
    assert L["keep_plus"] == round(65536 * math.exp(-1 / 20)) == 62340
    assert L["a_plus"] == round(0.003 * ws * 65536)
    assert L["w_hi"] == round(0.45 * ws) <= 255 and L["w_lo"] == 0
    # K at the target count 175 = 35 Hz * 5 s: R / T = 35 / 5000; the homeostatic factor is 0 there
    assert A["k_lut"][175] == round(2 ** 30 * 35 / 5000) and A["h_lut"][175] == 0
    assert A["h_lut"][0] == 0 and A["h_lut"][100] > 0 > A["h_lut"][300]
    assert pr.hw["num_weight_bits"] == 8 and pr.weight.max() <= L["w_hi"]
    assert plastic(hw, "inp_pop1").hw["learning"]["homeostasis"] is False
    assert not any("frozen" in w for w in rep.warnings)
    # rounding errors are reported and small; the report survives JSON
    assert 0 < pq.learning["param_rel_error"]["a_plus"] < 1e-4
    assert pq.learning["table_rel_error"]["k_lut"] < 1e-6
    d = json.loads(json.dumps(rep.to_dict()))
    assert QuantizationReport.from_dict(d).projections[1].learning["engine"] == "homeostatic_stdp"


def test_vogels_inhibitory_projection(loihi):
    hw, rep = quantize_network(load_network(os.path.join(EX, "balanced_ei.yaml")), loihi)
    pr = plastic(hw, "I_to_E")
    L = pr.hw["learning"]
    assert L["engine"] == "vogels_isp" and L["sign"] == -1 and pr.hw["sign_mode"] == "inhibitory"
    assert L["alpha"] == round(4096 * 2 * 5.0 * 20.0 / 1000) == 819
    assert np.all(pr.weight <= 0)
    # the exponent is the finest that holds w_max = 5.0: 2 * w_hi would not fit the 8-bit mantissa
    assert 128 <= L["w_hi"] <= 255
    ws = next(p for p in rep.projections if p.name == "I_to_E").learning["weight_scale"]
    assert L["eta"] == round(0.05 * ws * 65536)
    assert "learning" not in plastic(hw, "I_to_I").hw


def test_pool_tables_and_units(loihi):
    hw, rep = quantize_network(load_network(os.path.join(EX, "pool_neuron.yaml")), loihi)
    pr = plastic(hw, "inp_to_out")
    L, A = pr.hw["learning"], pr.hw["learning_arrays"]
    ws = next(p for p in rep.projections if p.name == "inp_to_out").learning["weight_scale"]
    assert L["pw_init"] == round(0.1 * ws * 65536) and L["k_cg"] == 2048 and L["alpha_r"] == 32768
    # S(0) = alpha_s (sigmoid(0) - beta_s) = 0; decay(0) = alpha_c - gamma_c = 0; prod(0) = g_soma
    assert A["s_lut"][0] == 0 and A["decay_lut"][0] == 0
    assert A["prod_lut"][0] == round(0.01 * ws * 65536)
    assert A["s_lut"][256] == round(65536 * (1 / (1 + math.exp(-1)) - 0.5))
    # the tables reach past the largest calcium: 100 inputs * w_max 0.1 = 10 per step
    assert len(A["decay_lut"]) > 256 * math.log(10.2 / 0.2)


def test_unsupported_rule_is_frozen_and_mixed_delays_are_an_error(loihi):
    net = neuromap.Network(name="t", dt=1.0, seed=0)
    net.add_population("a", 4, "poisson", rate=10.0)
    net.add_population("b", 2, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0)
    net.connect("a", "b", "all_to_all", weight=0.2, plasticity={"rule": "urbanczik_senn"}, name="p")
    hw, rep = quantize_network(net, loihi)
    assert "learning" not in hw.projections[0].hw and any("frozen" in w for w in rep.warnings)
    net.projections[0].plasticity = {"rule": "vogels_isp", "eta": 1e-3, "rho0": 5.0, "tau_stdp": 20.0,
                                     "w_min": 0.0, "w_max": 1.0, "weight_dependence": "additive"}
    net.projections[0].delay = np.array([1, 2] * 4)
    with pytest.raises(TargetError, match=r"projections\[0\] \(p\)\.delay: a plastic projection needs one delay"):
        quantize_network(net, loihi)


def test_check_pass_no_longer_calls_seed_rules_frozen(loihi):
    from neuromap.compiler.check import find_problems
    from neuromap.compiler.quantize_learning import SUPPORTED_RULES
    net = load_network(os.path.join(EX, "ramp_lif.yaml"))
    probs = find_problems(net, loihi, SUPPORTED_RULES)
    assert not [p for p in probs if p.item.endswith("plasticity")]


def test_compiled_plastic_projection_learns_on_the_emulator():
    """End to end: compile -> image learning dict -> emulator plastic loop -> the integer engine."""
    from emulator import emulate
    from neuromap.toolchain import compile_network
    net = neuromap.Network(name="t", dt=1.0, seed=3)
    net.add_population("a", 8, "poisson", rate=200.0)
    net.add_population("b", 2, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0)
    net.connect("a", "b", "all_to_all", weight=0.3, target="exc", name="p",
                plasticity={"rule": "nn_stdp", "tau_plus": 20.0, "tau_minus": 60.0, "A_plus": 0.01,
                            "A_minus": 0.003, "w_min": 0.0, "w_max": 0.6})
    img = compile_network(net, "loihi").image
    pm = img.projections[0]
    assert pm.learning["engine"] == "homeostatic_stdp" and pm.num_weight_bits == 8
    raw = emulate(img, 300, "numpy")
    w = raw.weights[0]
    syn_proj = img.synapse_projections()
    w0 = img.synapses["weight"][syn_proj == 0]
    assert raw.spikes.size and np.any(w[-1] != w0)               # it learned
    assert w.min() >= pm.learning["w_lo"] and w.max() <= pm.learning["w_hi"]
