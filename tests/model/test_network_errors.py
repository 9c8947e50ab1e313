"""Bad network files: every case is one line naming the file, the exact field path and what is allowed."""
import copy
import json

import numpy as np
import pytest
import yaml

from neuromap import NetworkFormatError
from neuromap.io import load_network

BASE = {
    "format": "neuromap/1", "name": "e", "dt": 1.0, "seed": 1,
    "populations": {
        "inp": {"size": 4, "neuron": {"model": "poisson", "rate": 5.0}},
        "out": {"size": 3, "neuron": {"model": "lif", "tau_m": 20.0}},
        "src": {"size": 2, "neuron": {"model": "spike_source", "times": [[1.0], []]}},
    },
    "projections": [
        {"pre": "inp", "post": "out", "connect": {"rule": "all_to_all"}, "weight": 0.1},
        {"pre": "inp", "post": "out", "connect": {"rule": "fixed_probability", "p": 0.5},
         "weight": {"uniform": [0.0, 1.0]}, "delay": 2},
        {"pre": "out", "post": "out", "connect": {"rule": "matrix", "file": "w.npy"},
         "plasticity": {"rule": "stdp"}},
    ],
    "probes": [{"population": "out", "variables": ["spikes", "v"]}],
}


def setter(path, value):
    """A mutation of BASE: set (or with value=DELETE, delete) the item at ``path``."""
    def mutate(d):
        *head, last = path
        for key in head:
            d = d[key]
        if value is DELETE:
            del d[last]
        else:
            d[last] = value
    return mutate


DELETE = object()
NAN, INF = float("nan"), float("inf")
P0, P1, P2 = ("projections", 0), ("projections", 1), ("projections", 2)
OUT = ("populations", "out")

# (id, mutation of BASE | raw file text, files to write {name: array}, field path, words of the message)
CASES = [
    ("unknown model", setter(OUT + ("neuron", "model"), "lifx"), {}, "populations.out.neuron.model",
     "unknown neuron model 'lifx' (use one of lif"),
    ("unknown connect rule", setter(P1 + ("connect", "rule"), "random"), {}, "projections[1].connect.rule",
     "unknown connect rule 'random' (use one of all_to_all"),
    ("unknown plasticity rule", setter(P2 + ("plasticity", "rule"), "stpd"), {}, "projections[2].plasticity.rule",
     "unknown plasticity rule 'stpd' (use one of stdp"),
    ("extra neuron parameter", setter(OUT + ("neuron", "tau"), 1.0), {}, "populations.out.neuron.tau",
     "unknown parameter 'tau' (allowed:"),
    ("missing rule parameter", setter(P1 + ("connect", "p"), DELETE), {}, "projections[1].connect.p",
     "missing required parameter 'p'"),
    ("extra plasticity parameter", setter(P2 + ("plasticity", "A_pluss"), 0.1), {}, "projections[2].plasticity.A_pluss",
     "unknown parameter 'A_pluss'"),
    ("plasticity parameter out of range", setter(P2 + ("plasticity", "tau_plus"), -1.0), {},
     "projections[2].plasticity.tau_plus", "out of range"),
    ("unknown population", setter(P0 + ("post",), "outt"), {}, "projections[0].post",
     "unknown population 'outt' (use one of: inp, out, src)"),
    ("unknown probe population", setter(("probes", 0, "population"), "x"), {}, "probes[0].population",
     "unknown population 'x'"),
    ("negative size", setter(("populations", "inp", "size"), -3), {}, "populations.inp.size",
     "size -3 < 1 (size is an integer >= 1)"),
    ("zero size", setter(("populations", "inp", "size"), 0), {}, "populations.inp.size", "size 0 < 1"),
    ("fractional size", setter(("populations", "inp", "size"), 2.5), {}, "populations.inp.size",
     "2.5 is not an integer"),
    ("text size", setter(("populations", "inp", "size"), "ten"), {}, "populations.inp.size", "'ten' is not an integer"),
    ("missing neuron", setter(OUT + ("neuron",), DELETE), {}, "populations.out.neuron", "missing 'neuron'"),
    ("p above 1", setter(P1 + ("connect", "p"), 1.5), {}, "projections[1].connect.p",
     "1.5 is out of range (use a number in [0.0, 1.0])"),
    ("p below 0", setter(P1 + ("connect", "p"), -0.1), {}, "projections[1].connect.p", "out of range"),
    ("k above n_pre", setter(P1 + ("connect",), {"rule": "fixed_indegree", "k": 5}), {}, "projections[1].connect.k",
     "k = 5 exceeds the 4 available"),
    ("one_to_one sizes", setter(P0 + ("connect",), "one_to_one"), {}, "projections[0].connect.rule",
     "one_to_one needs equal sizes, got pre 4 and post 3"),
    ("matrix shape mismatch", None, {"w.npy": np.ones((2, 3))}, "projections[2].connect.file",
     "matrix has shape (2, 3), expected (post, pre) = (3, 3)"),
    ("missing file", setter(P2 + ("connect", "file"), "nope.npy"), {}, "projections[2].connect.file",
     "file 'nope.npy' not found"),
    ("NaN in matrix file", None, {"w.npy": np.array([[0, 1, 0], [0, 0, np.nan], [0, 0, 0]])},
     "projections[2].connect.file", "contains nan at [1, 2] (all values must be finite numbers)"),
    ("inf in weight file", setter(P1 + ("weight",), {"file": "wf.npy"}), {"wf.npy": np.full((3, 4), np.inf)},
     "projections[1].weight.file", "contains inf at [0, 0]"),
    ("weight file shape", setter(P1 + ("weight",), {"file": "wf.npy"}), {"wf.npy": np.ones((4, 3))},
     "projections[1].weight.file", "array has shape (4, 3), expected (post, pre) = (3, 4)"),
    ("inf weight", setter(P0 + ("weight",), INF), {}, "projections[0].weight", "inf is not finite"),
    ("NaN distribution bound", setter(P1 + ("weight",), {"uniform": [0.0, NAN]}), {}, "projections[1].weight.uniform[1]",
     "nan is not finite"),
    ("NaN neuron parameter", setter(OUT + ("neuron", "tau_m"), NAN), {}, "populations.out.neuron.tau_m",
     "nan is not finite"),
    ("NaN in rate list", setter(("populations", "inp", "neuron", "rate"), [1.0, NAN, 2.0, 3.0]), {},
     "populations.inp.neuron.rate[1]", "nan is not finite"),
    ("NaN dt", setter(("dt",), NAN), {}, "dt", "nan is not finite"),
    ("negative rate", setter(("populations", "inp", "neuron", "rate"), -1.0), {}, "populations.inp.neuron.rate",
     "out of range"),
    ("rate list length", setter(("populations", "inp", "neuron", "rate"), [1.0, 2.0]), {},
     "populations.inp.neuron.rate", "give a scalar or a list of length 4"),
    ("delay zero", setter(P1 + ("delay",), 0), {}, "projections[1].delay", "delay 0 < 1 (delays are in steps, >= 1; 1 = the next step)"),
    ("fractional delay", setter(P1 + ("delay",), 1.5), {}, "projections[1].delay", "not a whole number of steps"),
    ("delay distribution below 1", setter(P1 + ("delay",), {"uniform_int": [0, 3]}), {},
     "projections[1].delay.uniform_int[0]", "lowest delay 0 < 1"),
    ("unknown weight form", setter(P1 + ("weight",), {"gauss": [0, 1]}), {}, "projections[1].weight.gauss",
     "unknown key 'gauss' (use a number, {uniform: [lo, hi]}"),
    ("missing weight", setter(P0 + ("weight",), DELETE), {}, "projections[0].weight", "missing weight"),
    ("weight with matrix", setter(P2 + ("weight",), 1.0), {}, "projections[2].weight", "weights come from the matrix"),
    ("unknown target", setter(P0 + ("target",), "gaba"), {}, "projections[0].target",
     "unknown target 'gaba' (use one of exc, inh)"),
    ("unknown projection key", setter(P0 + ("wieght",), 1), {}, "projections[0].wieght", "unknown key 'wieght'"),
    ("unknown probe variable", setter(("probes", 0, "variables"), ["spikes", "w"]), {}, "probes[0].variables[1]",
     "model 'lif' has no variable 'w'"),
    ("bad spike time", setter(("populations", "src", "neuron", "times"), [[-1.0], []]), {},
     "populations.src.neuron.times[0][0]", "-1.0 is not a time >= 0"),
    ("hardware option on float model", setter(P0 + ("weight_exp",), 2), {}, "projections[0].weight_exp",
     "weight_exp applies only to hardware-unit models"),
    ("unknown top-level key", setter(("populatons",), {}), {}, "populatons", "unknown key 'populatons' (allowed:"),
    ("wrong format", setter(("format",), "neuromap/2"), {}, "format", "unsupported format 'neuromap/2' (use format: neuromap/1)"),
    ("missing format", setter(("format",), DELETE), {}, "format", "missing 'format'"),
    ("negative seed", setter(("seed",), -1), {}, "seed", "-1 is not a valid seed"),
    ("bad YAML syntax", "format: neuromap/1\npopulations:\n  a: {size: 3, neuron: lif\nprojections: []\n", {},
     "line 4, column 12", "'}' (while parsing a flow mapping that starts at line 3, column 6;"),
    ("YAML tab indentation", "format: neuromap/1\npopulations:\n\ta: {size: 3}\n", {}, "line 3, column 1", "invalid YAML"),
    ("duplicate YAML key", "format: neuromap/1\npopulations:\n  a: {size: 1, neuron: lif}\n  a: {size: 2, neuron: lif}\n",
     {}, "line 4, column 3", "key 'a' appears twice"),
]


def _write(tmp_path, case):
    _, mutation, files, _, _ = case
    np.save(tmp_path / "w.npy", np.eye(3))
    for name, arr in files.items():
        np.save(tmp_path / name, arr)
    path = tmp_path / "net.yaml"
    if isinstance(mutation, str):
        path.write_text(mutation)
    else:
        d = copy.deepcopy(BASE)
        if mutation:
            mutation(d)
        path.write_text(yaml.safe_dump(d, sort_keys=False))
    return path


def test_base_network_is_valid(tmp_path):
    net = load_network(_write(tmp_path, ("ok", None, {}, "", "")))
    assert [p.n_synapses for p in net.projections][0] == 12


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_file_gives_one_line_with_field_path(tmp_path, case):
    path = _write(tmp_path, case)
    with pytest.raises(NetworkFormatError) as info:
        load_network(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {case[3]}: "), msg
    assert case[4] in msg, msg


@pytest.mark.parametrize("text,where", [('{"format": "neuromap/1",\n "dt": 1.0,,\n}', "line 2, column 12"),
                                        ('{"format": "neuromap/1"', "line 1, column 24")])
def test_bad_json_names_the_line(tmp_path, text, where):
    (tmp_path / "n.json").write_text(text)
    with pytest.raises(NetworkFormatError, match=rf"n\.json: {where}: invalid JSON"):
        load_network(tmp_path / "n.json")


def test_json_nan_is_rejected_like_yaml(tmp_path):
    d = copy.deepcopy(BASE)
    d["projections"][0]["weight"] = float("nan")
    np.save(tmp_path / "w.npy", np.eye(3))
    (tmp_path / "n.json").write_text(json.dumps(d))  # Python writes NaN, which json.loads accepts
    with pytest.raises(NetworkFormatError, match=r"n\.json: projections\[0\]\.weight: nan is not finite"):
        load_network(tmp_path / "n.json")


@pytest.mark.parametrize("name,content,problem", [
    ("missing.yaml", None, "file not found"),
    ("empty.yaml", "", "file is empty"),
    ("list.yaml", "- 1\n- 2\n", "the top level is a list, not a mapping"),
    ("net.txt", "format: neuromap/1\n", "unknown file type '.txt'"),
])
def test_file_level_problems(tmp_path, name, content, problem):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(NetworkFormatError) as info:
        load_network(tmp_path / name)
    assert str(info.value).startswith(str(tmp_path / name)) and problem in str(info.value)


def test_api_errors_use_the_same_field_paths():
    from neuromap import Network
    net = Network()
    net.add_population("a", 2, "lif")
    with pytest.raises(NetworkFormatError, match=r"^projections\[0\]\.connect\.p: 2\.0 is out of range"):
        net.connect("a", "a", {"rule": "fixed_probability", "p": 2.0}, weight=1.0)
    with pytest.raises(NetworkFormatError, match=r"^populations\.b\.neuron\.tau_m: unknown parameter|"
                                                 r"^populations\.b\.neuron\.tau_mm: unknown parameter"):
        net.add_population("b", 2, "lif", tau_mm=1.0)
    with pytest.raises(NetworkFormatError, match=r"^populations\.a: population 'a' already exists"):
        net.add_population("a", 2, "lif")


def _paths(d, pre=()):
    if pre:
        yield pre
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for k, v in items:
        yield from _paths(v, pre + (k,))


ODD_VALUES = [None, True, 0, -1, 1.5, -0.0, float("nan"), "x", "", [], [1], [[1, 2]], [[]], {}, {"a": 1},
              {"file": "w.npy"}, {"linspace": [1, 2]}, {"uniform": [1]}, {"uniform_int": [1, 10 ** 30]}, [None],
              {"rule": None}, {"rule": "matrix"}, 10 ** 30, [10 ** 30], [1, "a"], "lif", ["exc", "exc"]]


def test_any_odd_value_anywhere_is_a_one_line_error_never_a_crash(tmp_path):
    """Replace each value of a valid file by odd values: loading succeeds or raises NetworkFormatError."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    np.save(tmp_path / "w.npy", np.eye(3))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(list(_paths(BASE))), value=st.sampled_from(ODD_VALUES))
    def check(path, value):
        d = copy.deepcopy(BASE)
        setter(path, copy.deepcopy(value))(d)
        (tmp_path / "n.json").write_text(json.dumps(d))
        try:
            load_network(tmp_path / "n.json")
        except NetworkFormatError as e:
            assert "\n" not in str(e) and str(e).startswith(str(tmp_path / "n.json"))

    check()
