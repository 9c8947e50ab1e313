"""Network files: YAML and JSON give the same Network as the API; paths, round trips, atomic writes."""
import json
import os

import numpy as np
import pytest
import yaml

from neuromap import Network
from neuromap.errors import NetworkFormatError
from neuromap.io import load_network, read_network_dict, save_network
from neuromap.network import Projection, network_hash

ISSUE_EXAMPLE = """\
format: neuromap/1
name: ramp
dt: 1.0                 # ms per step
seed: 7
populations:
  inp: {size: 100, neuron: {model: poisson, rate: {linspace: [0.2, 20.0]}}}   # Hz: scalar | list | linspace
  out: {size: 2, neuron: {model: lif, tau_m: 20.0, tau_syn: 5.0, v_th: 1.0, v_reset: 0.0, refractory: 2, bias: 0.0}}
projections:
  - pre: inp
    post: out
    connect: {rule: all_to_all}
    weight: {uniform: [0.01, 0.03]}
    delay: 1
    plasticity: {rule: homeostatic_stdp, Rtarget: 35.0}
probes: [{population: out, variables: [spikes, v]}]
"""


def api_example() -> Network:
    net = Network("ramp", dt=1.0, seed=7)
    net.add_population("inp", 100, "poisson", rate={"linspace": [0.2, 20.0]})
    net.add_population("out", 2, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2, bias=0.0)
    net.connect("inp", "out", "all_to_all", weight={"uniform": [0.01, 0.03]}, delay=1,
                plasticity={"rule": "homeostatic_stdp", "Rtarget": 35.0})
    net.add_probe("out", ["spikes", "v"])
    return net


def test_issue_example_yaml_json_and_api_agree(tmp_path):
    (tmp_path / "ramp.yaml").write_text(ISSUE_EXAMPLE)
    (tmp_path / "ramp.json").write_text(json.dumps(yaml.safe_load(ISSUE_EXAMPLE)))
    from_yaml = load_network(tmp_path / "ramp.yaml")
    from_json = load_network(tmp_path / "ramp.json")
    api = api_example()
    assert from_yaml == from_json == api
    assert network_hash(from_yaml) == network_hash(from_json) == network_hash(api)
    assert from_yaml.source == str(tmp_path / "ramp.yaml")
    proj = from_yaml.projections[0]
    assert proj.n_synapses == 200 and 0.01 <= proj.weight.min() and proj.weight.max() <= 0.03
    assert proj.plasticity["rule"] == "homeostatic_stdp" and proj.plasticity["Rtarget"] == 35.0
    np.testing.assert_allclose(from_yaml.populations["inp"].neuron["rate"][[0, -1]], [0.2, 20.0])


def test_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "nets" / "data").mkdir(parents=True)
    w = np.array([[0.0, 1.5], [2.5, 0.0], [0.0, 0.0]])
    np.save(tmp_path / "nets" / "data" / "w.npy", w)
    np.savetxt(tmp_path / "nets" / "data" / "d.csv", np.full((3, 2), 4), delimiter=",")
    (tmp_path / "nets" / "m.yaml").write_text(
        "format: neuromap/1\n"
        "populations: {a: {size: 2, neuron: lif}, b: {size: 3, neuron: lif}}\n"
        "projections:\n"
        "  - {pre: a, post: b, connect: {rule: matrix, file: data/w.npy}, delay: {file: data/d.csv}}\n")
    monkeypatch.chdir(tmp_path)  # not the file's directory
    net = load_network("nets/m.yaml")
    p = net.projections[0]
    assert p.post_idx.tolist() == [0, 1] and p.pre_idx.tolist() == [1, 0] and p.weight.tolist() == [1.5, 2.5]
    assert p.delay.tolist() == [4, 4]
    # saved elsewhere, the file references are rewritten relative to the new file
    out = save_network(net, tmp_path / "elsewhere" / "copy.yaml")
    text = open(out).read()
    assert "../nets/data/w.npy" in text and "../nets/data/d.csv" in text
    with pytest.raises(NetworkFormatError, match="outside the network file's directory"):
        load_network(out)   # references out of the file's directory need consent (SECURITY.md)
    assert load_network(out, allow_outside_files=True) == net


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_save_load_roundtrip_with_sidecar_arrays(tmp_path, suffix):
    net = Network("rt", dt=0.5, seed=3)
    net.add_population("s", 3, "spike_source", times=[[0.5, 2.0], [], [1.0]])
    net.add_population("p", 50, "poisson", rate=np.linspace(1, 50, 50))
    net.add_population("e", 40, "lif", bias={"linspace": [0, 1]}, refractory=1)
    net.add_population("i", 10, "izhikevich")
    rng = np.random.default_rng(0)
    net.connect("p", "e", {"rule": "matrix", "matrix": rng.random((40, 50)) * (rng.random((40, 50)) < 0.2)})
    net.connect("s", "e", "all_to_all", weight=rng.normal(size=(40, 3)), delay={"uniform_int": [1, 3]})
    net.connect("e", "i", {"rule": "fixed_probability", "p": 0.25}, weight={"normal": [0.5, 0.1], "clip": [0, 1]},
                target=["ampa", "nmda"], plasticity={"rule": "stdp", "A_plus": 0.02})
    net.connect("e", "e", {"rule": "fixed_indegree", "k": 5, "allow_self": False}, weight=0.1, name="rec")
    net.add_probe("e", ["spikes", "v"], neurons=[0, 5])
    path = tmp_path / f"net{suffix}"
    save_network(net, path, inline_limit=100)
    back = load_network(path)
    assert back == net and network_hash(back) == network_hash(net)
    assert (tmp_path / "net.p_to_e.connect.matrix.npy").exists()  # 2000 values > inline_limit
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    # saving again over the same path (atomic replace) gives the same text
    first = path.read_text()
    save_network(back, path, inline_limit=100)
    assert path.read_text() == first


def test_projection_without_spec_saves_as_explicit_synapse_list(tmp_path):
    net = Network()
    net.add_population("a", 3, "lif")
    net.projections.append(Projection("raw", "a", "a", np.array([2, 0]), np.array([1, 1]), np.array([0.5, -0.5]),
                                      np.array([3, 1]), ("inh",)))
    save_network(net, tmp_path / "raw.json")
    d = json.loads((tmp_path / "raw.json").read_text())
    assert d["projections"][0]["connect"] == {"rule": "list", "pre": [2, 0], "post": [1, 1]}
    assert load_network(tmp_path / "raw.json") == net


def test_yaml_reads_exponent_numbers_as_floats(tmp_path):
    (tmp_path / "e.yaml").write_text("format: neuromap/1\ndt: 1e-1\npopulations: {a: {size: 1e1, neuron: lif}}\n")
    net = load_network(tmp_path / "e.yaml")
    assert net.dt == 0.1 and net.populations["a"].size == 10


def test_seed_override_redraws(tmp_path):
    (tmp_path / "r.yaml").write_text(ISSUE_EXAMPLE)
    a = load_network(tmp_path / "r.yaml")
    b = load_network(tmp_path / "r.yaml", seed=8)
    assert b.seed == 8 and not np.array_equal(a.projections[0].weight, b.projections[0].weight)
    assert read_network_dict(tmp_path / "r.yaml")["seed"] == 7


def test_docs_cover_every_model_and_rule_parameter():
    """docs/network-format.md has a table row for every parameter of every model and plasticity rule."""
    from neuromap.connectivity import CONNECT_RULES
    from neuromap.neurons import NEURON_MODULES, neuron_module
    from neuromap.plasticity import RULE_MODULES, rule_class
    docs = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "network-format.md"), encoding="utf-8").read()
    missing = []
    for model in NEURON_MODULES:
        section = docs.split(f"#### `{model}`")[1].split("####")[0] if f"#### `{model}`" in docs else ""
        module = neuron_module(model)
        missing += [f"{model}.{p}" for p in list(module.PARAMS) + list(getattr(module, "EXTRA", ()))
                    if f"| `{p}` |" not in section]
    for rule in RULE_MODULES:
        section = docs.split(f"#### `{rule}`")[1].split("####")[0] if f"#### `{rule}`" in docs else ""
        missing += [f"{rule}.{p}" for p in rule_class(rule).PARAMS if f"| `{p}` |" not in section]
    missing += [f"connect rule {r}" for r in CONNECT_RULES if f"| `{r}` |" not in docs]
    assert not missing, f"undocumented in docs/network-format.md: {missing}"
