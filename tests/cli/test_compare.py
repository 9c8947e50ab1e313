"""neuromap compare: same inputs on both sides, per-population statistics, CLI."""
import json

import numpy as np
import pytest
import yaml

import neuromap
from neuromap.cli import main
from neuromap.compare import compare

NET = {
    "format": "neuromap/1", "name": "tiny", "dt": 1.0, "seed": 4,
    "populations": {"x": {"size": 30, "neuron": {"model": "poisson", "rate": 40.0}},
                    "e": {"size": 20, "neuron": {"model": "lif", "tau_m": 10.0, "tau_syn": 2.0}}},
    "projections": [{"pre": "x", "post": "e", "connect": {"rule": "fixed_indegree", "k": 10}, "weight": 1.5}],
}


def test_compare_statistics():
    net = neuromap.Network.from_dict(NET)
    r = compare(net, "loihi", 500, engine="numpy")
    (p,) = r.populations
    ref = neuromap.simulate(net, 500)
    assert p.spikes_ref == ref.spikes["e"][0].size and p.rate_ref_hz == pytest.approx(p.spikes_ref / (20 * 0.5))
    assert p.rate_rel_error == pytest.approx(abs(p.spikes_hw - p.spikes_ref) / p.spikes_ref)
    assert p.rate_rel_error < 0.05 and p.count_correlation > 0.95
    json.dumps(r.to_dict())


def test_cli_json_and_problems(tmp_path, capsys):
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(NET))
    with pytest.raises(SystemExit) as e:
        main(["compare", str(f), "--steps", "200", "--engine", "numpy", "--json"])
    assert e.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["populations"][0]["name"] == "e" and out["quantization"]["projections"][0]["weight_exp"] is not None
    bad = dict(NET, populations=dict(NET["populations"], z={"size": 1, "neuron": {"model": "izhikevich"}},
                                     w={"size": 1, "neuron": {"model": "eif"}}))
    f.write_text(yaml.safe_dump(bad))
    with pytest.raises(SystemExit) as e:
        main(["compare", str(f), "--steps", "10"])
    err = capsys.readouterr().err.splitlines()
    assert e.value.code == 2
    assert sorted(line.split(":")[0] for line in err[:2]) == ["  populations.w", "  populations.z"]
    assert any("model 'izhikevich' cannot run on 'loihi'" in line for line in err[:2])
    assert "2 problems" in err[-1]


def test_plastic_projections_learn_on_chip_and_are_compared_with_the_float_weights():
    """homeostatic/nn STDP compile to integer engines: compare reads the emulator's learned weights
    (aligned with the network's synapses), not the initial ones; --freeze compares static nets."""
    d = dict(NET, projections=[dict(NET["projections"][0], weight={"uniform": [0.5, 2.0]},
                                    plasticity={"rule": "nn_stdp", "tau_plus": 20.0, "tau_minus": 60.0,
                                                "A_plus": 0.01, "A_minus": 0.004, "w_min": 0.0, "w_max": 2.0})])
    net = neuromap.Network.from_dict(d)
    r = compare(net, "loihi", 1500)
    (w,) = r.weights
    init = net.projections[0].weight.mean()
    assert w.learned_on_chip and abs(w.mean_ref - init) > 0.05           # the rule moved the weights
    assert abs(w.mean_hw - w.mean_ref) < 0.1 * abs(w.mean_ref - init)     # and the chip followed
    assert w.rms_rel_error < 0.05
    frozen = compare(net, "loihi", 300, freeze_plasticity=True)
    assert frozen.weights == []
