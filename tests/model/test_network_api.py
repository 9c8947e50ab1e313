"""The Python construction API: populations, connect rules, distributions, determinism, probes, hashing."""
import sys
import types

import numpy as np
import pytest

from neuromap import Network, NetworkFormatError
from neuromap.connectivity import sample_rows_without_replacement
from neuromap.network import PROJECTION_STREAM, network_hash
from neuromap.params import Param


def two_pops(seed=1, n_pre=40, n_post=30):
    net = Network("t", seed=seed)
    net.add_population("a", n_pre, "lif")
    net.add_population("b", n_post, "lif")
    return net


# ---------------------------------------------------------------- populations

def test_population_defaults_and_overrides():
    net = Network()
    pop = net.add_population("out", 3, {"model": "lif", "tau_m": 10.0}, v_th=2.0)
    assert pop.size == 3 and pop.model == "lif"
    assert pop.neuron["tau_m"] == 10.0 and pop.neuron["v_th"] == 2.0
    from neuromap.neurons.lif import PARAMS
    assert set(pop.neuron) == {"model"} | set(PARAMS)  # every default filled in
    assert pop.neuron["tau_syn"] == PARAMS["tau_syn"].default


def test_poisson_rate_forms():
    net = Network()
    lin = net.add_population("lin", 5, "poisson", rate={"linspace": [0.2, 20.0]})
    assert lin.neuron["rate"].dtype == np.float64
    np.testing.assert_allclose(lin.neuron["rate"], [0.2, 5.15, 10.1, 15.05, 20.0])
    scal = net.add_population("scal", 4, "poisson", rate=7)
    np.testing.assert_array_equal(scal.neuron["rate"], [7.0] * 4)
    lst = net.add_population("lst", 3, "poisson", rate=[1, 2, 3.5])
    np.testing.assert_array_equal(lst.neuron["rate"], [1.0, 2.0, 3.5])


def test_per_neuron_linspace_for_any_per_neuron_param():
    net = Network()
    pop = net.add_population("p", 3, "lif", bias={"linspace": [0.0, 1.0]})
    np.testing.assert_array_equal(pop.neuron["bias"], [0.0, 0.5, 1.0])


def test_spike_source_times_in_ms():
    net = Network()
    pop = net.add_population("s", 3, "spike_source", times=[[5.0, 1.0], [], [2]])
    assert pop.neuron["times"] == [[5.0, 1.0], [], [2.0]]


def test_model_hooks_with_a_fake_model(monkeypatch):
    """PARAMS, per-neuron forms, EXTRA validators, TARGETS and STATE come from the model module."""
    from neuromap import neurons
    fake = types.ModuleType("fake_model")
    fake.PARAMS = {"g": Param(1.0, lo=0.0, per_neuron=True), "n": Param(kind="int", lo=1)}
    fake.EXTRA = ("pattern",)
    fake.validate_pattern = lambda v, size, field: [x * 2 for x in v]
    fake.TARGETS = {"only": (0, 1.0)}
    fake.STATE = ("x",)
    monkeypatch.setitem(sys.modules, "fake_model", fake)
    monkeypatch.setitem(neurons.NEURON_MODULES, "fake", "fake_model")
    net = Network()
    pop = net.add_population("f", 2, "fake", n=3, g={"linspace": [1, 2]}, pattern=[1, 2])
    assert pop.neuron["n"] == 3 and pop.neuron["pattern"] == [2, 4]
    np.testing.assert_array_equal(pop.neuron["g"], [1.0, 2.0])
    with pytest.raises(NetworkFormatError, match=r"populations\.g\.neuron\.n: missing"):
        net.add_population("g", 2, "fake")
    net.connect("f", "f", weight=1.0, target="only")
    with pytest.raises(NetworkFormatError, match=r"projections\[1\]\.target: unknown target 'exc'"):
        net.connect("f", "f", weight=1.0)
    net.add_probe("f", ["spikes", "x"])
    with pytest.raises(NetworkFormatError, match=r"probes\[1\]\.variables\[0\]: model 'fake' has no variable 'v'"):
        net.add_probe("f", ["v"])


# ---------------------------------------------------------------- connect rules

def test_all_to_all_order_and_autapses():
    net = two_pops(n_pre=3, n_post=2)
    p = net.connect("a", "b", weight=0.5)
    assert p.post_idx.tolist() == [0, 0, 0, 1, 1, 1] and p.pre_idx.tolist() == [0, 1, 2, 0, 1, 2]
    assert p.pre_idx.dtype == np.int32 and p.post_idx.dtype == np.int32 and p.delay.dtype == np.int16 \
        and p.weight.dtype == np.float64                                 # 18 bytes per synapse
    assert (p.weight == 0.5).all() and (p.delay == 1).all() and p.target == ("exc",)
    q = net.connect("a", "a", {"rule": "all_to_all", "allow_self": False}, weight=1.0)
    assert q.n_synapses == 6 and not (q.pre_idx == q.post_idx).any()
    r = net.connect("a", "a", "all_to_all", weight=1.0)
    assert r.n_synapses == 9  # autapses allowed by default


def test_one_to_one():
    net = two_pops(n_pre=4, n_post=4)
    p = net.connect("a", "b", "one_to_one", weight=2.0, delay=3)
    assert p.pre_idx.tolist() == p.post_idx.tolist() == [0, 1, 2, 3]
    assert (p.delay == 3).all()


def test_fixed_probability_statistics():
    net = two_pops(seed=5, n_pre=200, n_post=150)
    p = net.connect("a", "b", {"rule": "fixed_probability", "p": 0.2}, weight=1.0)
    n, mean = 200 * 150, 200 * 150 * 0.2
    assert abs(p.n_synapses - mean) < 5 * np.sqrt(n * 0.2 * 0.8)
    flat = p.post_idx * 200 + p.pre_idx
    assert (np.diff(flat) > 0).all()  # sorted post-major, no multapses
    per_pre = np.bincount(p.pre_idx, minlength=200)
    assert abs(per_pre.mean() - 30) < 1.5 and per_pre.min() > 5  # every column sampled alike
    assert net.connect("a", "b", {"rule": "fixed_probability", "p": 0.0}, weight=1.0).n_synapses == 0
    assert net.connect("a", "b", {"rule": "fixed_probability", "p": 1.0}, weight=1.0).n_synapses == n
    s = net.connect("a", "a", {"rule": "fixed_probability", "p": 1.0, "allow_self": False}, weight=1.0)
    assert s.n_synapses == 200 * 199 and not (s.pre_idx == s.post_idx).any()


def test_fixed_indegree_exact_and_uniform():
    net = two_pops(seed=2, n_pre=50, n_post=400)
    p = net.connect("a", "b", {"rule": "fixed_indegree", "k": 7}, weight=1.0)
    assert (np.bincount(p.post_idx, minlength=400) == 7).all()
    flat = p.post_idx * 50 + p.pre_idx
    assert (np.diff(flat) > 0).all()  # distinct partners, sorted
    counts = np.bincount(p.pre_idx, minlength=50)  # 2800 draws over 50 pre neurons: 56 +- 7.4 each
    assert abs(counts - 56).max() < 35
    s = net.connect("b", "b", {"rule": "fixed_indegree", "k": 399, "allow_self": False}, weight=1.0)
    assert not (s.pre_idx == s.post_idx).any() and (np.bincount(s.post_idx) == 399).all()


@pytest.mark.parametrize("n,k", [(10, 3), (10, 8), (1000, 40), (5, 5)])
def test_row_sampler_is_uniform_k_subset(n, k):
    rng = np.random.default_rng(0)
    x = sample_rows_without_replacement(rng, 4000, n, k)
    assert x.shape == (4000, k) and (np.diff(x, axis=1) > 0).all() and x.min() >= 0 and x.max() < n
    freq = np.bincount(x.ravel(), minlength=n) / 4000  # each value in a row with probability k/n
    assert np.abs(freq - k / n).max() < 5 * np.sqrt(k / n * (1 - k / n) / 4000) + 1e-12


def test_matrix_rule_weights_from_matrix(tmp_path):
    w = np.array([[0.0, 0.5, 0.0], [-1.0, 0.0, 2.0]])
    net = two_pops(n_pre=3, n_post=2)
    p = net.connect("a", "b", {"rule": "matrix", "matrix": w})
    assert list(zip(p.post_idx, p.pre_idx, p.weight)) == [(0, 1, 0.5), (1, 0, -1.0), (1, 2, 2.0)]
    np.testing.assert_array_equal(p.dense_weights(3, 2), w)
    np.save(tmp_path / "w.npy", w)
    q = net.connect("a", "b", {"rule": "matrix", "file": "w.npy"}, base_dir=str(tmp_path))
    np.testing.assert_array_equal(q.weight, p.weight)


def test_list_rule_keeps_order():
    net = two_pops(n_pre=3, n_post=2)
    p = net.connect("a", "b", {"rule": "list", "pre": [2, 0, 2], "post": [1, 1, 1]}, weight=[0.1, 0.2, 0.3],
                    delay=[1, 2, 3])
    assert p.pre_idx.tolist() == [2, 0, 2] and p.weight.tolist() == [0.1, 0.2, 0.3] and p.delay.tolist() == [1, 2, 3]


# ---------------------------------------------------------------- weights and delays

def test_weight_distributions():
    net = two_pops(seed=3, n_pre=100, n_post=100)
    u = net.connect("a", "b", weight={"uniform": [0.01, 0.03]}).weight
    assert 0.01 <= u.min() and u.max() < 0.03 and abs(u.mean() - 0.02) < 0.001
    ui = net.connect("a", "b", weight={"uniform_int": [-2, 2]}).weight
    assert set(np.unique(ui)) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    nrm = net.connect("a", "b", weight={"normal": [1.0, 0.5]}).weight
    assert abs(nrm.mean() - 1.0) < 0.02 and abs(nrm.std() - 0.5) < 0.02
    clipped = net.connect("a", "b", weight={"normal": [1.0, 0.5], "clip": [0.5, 1.2]}).weight
    assert clipped.min() == 0.5 and clipped.max() == 1.2


def test_weight_and_delay_files_index_post_pre(tmp_path):
    w = np.arange(6, dtype=float).reshape(2, 3)  # (post, pre)
    d = np.array([[1, 2, 3], [4, 5, 6]])
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "d.npy", d)
    net = two_pops(n_pre=3, n_post=2)
    p = net.connect("a", "b", {"rule": "list", "pre": [2, 0], "post": [0, 1]}, weight={"file": "w.npy"},
                    delay={"file": "d.npy"}, base_dir=str(tmp_path))
    assert p.weight.tolist() == [2.0, 3.0] and p.delay.tolist() == [3, 4]


def test_delay_uniform_int():
    net = two_pops(n_pre=50, n_post=50)
    d = net.connect("a", "b", weight=1.0, delay={"uniform_int": [1, 4]}).delay
    assert set(np.unique(d)) == {1, 2, 3, 4} and d.dtype == np.int16      # narrow: delays < 2**14


def test_documented_generator_contract():
    """Projection i draws rule, then weights, then delays from default_rng([seed, PROJECTION_STREAM, i])."""
    net = two_pops(seed=11, n_pre=4, n_post=3)
    net.connect("a", "b", weight=1.0)
    p = net.connect("a", "b", {"rule": "fixed_probability", "p": 1.0}, weight={"uniform": [0, 1]},
                    delay={"uniform_int": [1, 9]})
    rng = np.random.default_rng([11, PROJECTION_STREAM, 1])
    np.testing.assert_array_equal(p.weight, rng.uniform(0, 1, size=12))
    np.testing.assert_array_equal(p.delay, rng.integers(1, 9, size=12, endpoint=True))


def test_determinism_and_independence():
    def build(seed, extra):
        net = two_pops(seed=seed)
        net.connect("a", "b", {"rule": "fixed_probability", "p": 0.3}, weight={"normal": [0, 1]})
        if extra:
            net.connect("b", "a", {"rule": "fixed_indegree", "k": 3}, weight=1.0)
        return net
    a, b, c = build(1, False), build(1, True), build(2, False)
    assert a.projections[0] == b.projections[0]  # a later projection does not change an earlier one
    assert network_hash(a) == network_hash(build(1, False))
    assert a.projections[0] != c.projections[0]


# ---------------------------------------------------------------- targets, plasticity, hardware units

def test_targets_and_plasticity():
    net = Network()
    net.add_population("i", 3, "poisson", rate=5.0)
    net.add_population("e", 2, "izhikevich")
    p = net.connect("i", "e", weight=0.1, target=["ampa", "nmda"])
    assert p.target == ("ampa", "nmda")
    from neuromap.plasticity import rule_class
    schema = rule_class("vogels_isp").PARAMS
    q = net.connect("i", "e", weight=0.1, target="inh", plasticity={"rule": "vogels_isp", "eta": 0.01})
    assert q.plasticity["rule"] == "vogels_isp" and q.plasticity["eta"] == 0.01
    assert set(q.plasticity) == {"rule"} | set(schema)
    assert q.spec["plasticity"] == {"rule": "vogels_isp", "eta": 0.01}


def test_hardware_unit_projection_options():
    net = Network()
    net.add_population("i", 4, "spike_source", times=[[1.0]] * 4)
    net.add_population("h", 2, "loihi_lif", vth=100)
    p = net.connect("i", "h", weight={"uniform_int": [0, 10]}, weight_exp=2, num_weight_bits=6)
    assert p.hw == {"weight_exp": 2, "num_weight_bits": 6, "sign_mode": "excitatory"}
    q = net.connect("i", "h", weight=np.array([[-3, 4, 0, 1], [2, 2, 2, 2]]))
    assert q.hw == {"weight_exp": 0, "num_weight_bits": 8, "sign_mode": "mixed"}
    with pytest.raises(NetworkFormatError, match=r"projections\[2\]\.weight: weight 0\.5 is not an integer"):
        net.connect("i", "h", weight=0.5)
    with pytest.raises(NetworkFormatError, match=r"projections\[2\]\.sign_mode: weight -3 < 0 with sign_mode exc"):
        net.connect("i", "h", weight=-3, sign_mode="excitatory")
    net.add_population("f", 2, "lif")
    with pytest.raises(NetworkFormatError, match=r"projections\[2\]\.weight_exp: weight_exp applies only"):
        net.connect("i", "f", weight=1.0, weight_exp=1)
    assert net.connect("i", "f", weight=1.0).hw is None


def test_model_without_receptor_channels_takes_exc():
    net = Network()
    net.add_population("i", 2, "spike_source", times=[[1.0], []])
    net.add_population("t", 3, "truenorth")
    p = net.connect("i", "t", weight={"uniform_int": [-5, 5]})
    assert p.target == ("exc",) and p.hw["sign_mode"] in ("mixed", "excitatory", "inhibitory")
    with pytest.raises(NetworkFormatError, match=r"projections\[1\]\.target: unknown target 'inh' \(use one of exc\)"):
        net.connect("i", "t", weight=1, target="inh")
    with pytest.raises(NetworkFormatError, match=r"projections\[1\]\.post: population 'i' is an input"):
        net.connect("t", "i", weight=1)


# ---------------------------------------------------------------- probes, dicts, hashing

def test_probes():
    net = two_pops()
    pr = net.add_probe("b", ("spikes", "v"), neurons=[3, 1])
    assert pr.variables == ("spikes", "v") and pr.neurons.tolist() == [3, 1]
    assert net.add_probe(net.populations["a"]).neurons is None
    with pytest.raises(NetworkFormatError, match=r"probes\[2\]\.neurons: index 30 is outside 0\.\.29"):
        net.add_probe("b", "v", neurons=[30])


def test_to_dict_from_dict_roundtrip_and_hash():
    net = two_pops(seed=4)
    net.add_population("s", 2, "poisson", rate={"linspace": [1, 2]})
    net.connect("s", "a", {"rule": "fixed_indegree", "k": 1}, weight={"uniform": [0, 1]}, delay={"uniform_int": [1, 3]})
    net.connect("a", "b", {"rule": "matrix", "matrix": np.eye(30, 40)})
    net.add_probe("a", ["spikes", "v"])
    d = net.to_dict()
    assert d["format"] == "neuromap/1" and d["populations"]["s"]["neuron"]["rate"] == {"linspace": [1, 2]}
    back = Network.from_dict(d)
    assert back == net and network_hash(back) == network_hash(net)
    back.projections[0].weight[0] += 1e-12
    assert network_hash(back) != network_hash(net) and back != net


def test_hash_ignores_name_and_counts_everything_else():
    h = network_hash(two_pops())
    other = two_pops()
    other.name = "renamed"
    assert network_hash(other) == h
    for change in (lambda n: setattr(n, "dt", 0.5), lambda n: n.populations["a"].neuron.update(tau_m=21.0),
                   lambda n: n.add_probe("a")):
        n = two_pops()
        change(n)
        assert network_hash(n) != h
    assert len(h) == 64 and int(h, 16) >= 0


def test_projection_names():
    net = two_pops()
    assert net.connect("a", "b", weight=1.0).name == "a_to_b"
    assert net.connect("a", "b", weight=1.0).name == "a_to_b_2"
    assert net.connect("a", "b", weight=1.0, name="ff").name == "ff"
    with pytest.raises(NetworkFormatError, match=r"projections\[3\]\.name: projection 'ff' already exists"):
        net.connect("a", "b", weight=1.0, name="ff")


def test_brunel_scale_is_sparse_and_exact():
    """Moderate size here; the 12.5k-neuron build is measured in bench/, not timed in tests."""
    net = Network(seed=1)
    net.add_population("E", 4000, "lif")
    net.add_population("I", 1000, "lif")
    ee = net.connect("E", "E", {"rule": "fixed_indegree", "k": 400, "allow_self": False}, weight=0.1,
                     delay={"uniform_int": [1, 5]})
    ie = net.connect("I", "E", {"rule": "fixed_probability", "p": 0.1}, weight=0.5, target="inh")
    assert ee.n_synapses == 4000 * 400 and not (ee.pre_idx == ee.post_idx).any()
    assert abs(ie.n_synapses - 400_000) < 5 * np.sqrt(400_000)


def test_long_delays_stay_exact():
    """Delays from 2**14 on are kept as int32 (int16 only below NARROW_DELAY), values unchanged."""
    net = two_pops(n_pre=3, n_post=2)
    p = net.connect("a", "b", weight=1.0, delay=[5, 2 ** 14, 7, 1, 40000, 3])
    assert p.delay.dtype == np.int32 and p.delay.tolist() == [5, 2 ** 14, 7, 1, 40000, 3]
