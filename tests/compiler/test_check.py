"""Compatibility check: every problem at once, with item, reason and nearest alternative."""
import pytest

import neuromap
from neuromap.compiler.check import check_compatibility, find_problems
from neuromap.errors import TargetError
from neuromap.targets import load_target


def _net():
    net = neuromap.Network(name="bad", dt=1.0)
    net.add_population("x", 4, "poisson", rate=10.0)
    net.add_population("iz", 2, "izhikevich")
    net.add_population("ex", 2, "eif")
    net.add_population("ok", 3, "lif", refractory=2)
    net.connect("x", "ok", weight=0.5, delay=70)
    net.connect("x", "ok", weight=0.5, plasticity={"rule": "stdp"}, name="learn")
    return net


def test_all_problems_at_once_on_loihi():
    with pytest.raises(TargetError) as e:
        check_compatibility(_net(), load_target("loihi"))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("3 problems mapping 'bad' onto 'loihi'; first: populations.iz")
    items = [p.item for p in e.value.problems]
    assert items == ["populations.iz", "populations.ex", "projections[0] (x_to_ok).delay"]
    assert "lif" in e.value.problems[0].alternative
    assert "delay 70 steps outside [1, 62]" in e.value.problems[2].reason


def test_learning_and_models_on_truenorth():
    probs = find_problems(_net(), load_target("truenorth"))
    errs = {p.item for p in probs if p.severity == "error"}
    assert "projections[1] (learn).plasticity" in errs          # no on-chip learning
    assert "populations.ok" in errs                              # lif is not a truenorth model
    assert "projections[0] (x_to_ok).delay" in errs              # 70 > 15


def test_approximations_do_not_raise():
    net = neuromap.Network(dt=1.0)
    net.add_population("x", 4, "poisson", rate=10.0)
    net.add_population("ok", 3, "lif", refractory=70)             # loihi holds at most 63 steps
    net.add_population("short", 3, "lif", refractory=63)          # fits: no problem
    net.connect("x", "ok", weight=0.5, plasticity={"rule": "urbanczik_senn"})   # no engine on loihi
    net.connect("x", "short", weight=0.5)
    probs = check_compatibility(net, load_target("loihi"))
    assert sorted(p.item for p in probs) == ["populations.ok.refractory", "projections[0] (x_to_ok).plasticity"]
    assert all(p.severity == "approximation" for p in probs)
    (plast,) = [p for p in probs if p.item.endswith("plasticity")]
    assert "frozen" in plast.reason and plast.alternative.startswith("stdp_loihi")


def test_per_neuron_time_constants_are_not_a_problem():
    # the quantize pass gives each group of equal tau_m/tau_syn/v_th/v_reset its own du/dv/vth
    # (tests/compiler/test_quantize_groups.py); the check no longer asks the user to split the population
    net = neuromap.Network(dt=1.0)
    net.add_population("p", 3, "lif", tau_m=[10.0, 20.0, 20.0], v_th=[1.0, 1.0, 1.0])
    assert check_compatibility(net, load_target("loihi")) == []
