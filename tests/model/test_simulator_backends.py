"""numpy and numba backends: bit-identical spikes, traces and weights; CSR delivery with delays; errors."""
import numpy as np
import pytest

import neuromap
from neuromap.errors import NeuromapError
from neuromap.simulator.layout import build

LIF = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)


def mixed(rule, seed=3):
    """Poisson + spike_source -> lif, if, izhikevich, eif; random delays 1..4, exc and inh, one plastic projection."""
    net = neuromap.Network(dt=1.0, seed=seed)
    net.add_population("X", 40, "poisson", rate={"linspace": [5.0, 60.0]})
    net.add_population("S", 3, "spike_source", times=[[1.0, 5.0, 30.0], [2.0], []])
    net.add_population("L", 12, "lif", **LIF)
    net.add_population("F", 6, "if", v_th=1.0, leak=0.01, refractory=1)
    net.add_population("Z", 5, "izhikevich")
    net.add_population("E", 5, "eif", bias=1.0)
    d = {"uniform_int": [1, 4]}
    net.connect("X", "L", {"rule": "fixed_probability", "p": 0.5}, weight={"uniform": [0.05, 0.4]}, delay=d,
                plasticity=rule)
    net.connect("S", "L", "all_to_all", weight=0.3, delay=2)
    net.connect("L", "L", {"rule": "fixed_probability", "p": 0.3}, weight=0.2, delay=d, target="inh")
    net.connect("X", "F", {"rule": "fixed_indegree", "k": 10}, weight=0.1, delay=d)
    net.connect("L", "F", "all_to_all", weight=0.05, target="inh", delay=3)
    net.connect("X", "Z", "all_to_all", weight={"uniform": [0.01, 0.05]}, target=["ampa", "nmda"], delay=d)
    net.connect("L", "Z", "all_to_all", weight=0.05, target="gaba")
    net.connect("X", "E", "all_to_all", weight={"uniform": [0.5, 2.0]}, delay=d)
    net.connect("F", "E", "all_to_all", weight=1.0, target="inh")
    net.add_probe("L", ["v", "I"])
    net.add_probe("Z", ["v", "u", "g_nmda"], neurons=[0, 3])
    net.add_probe("E", ["v"])
    return net


RULES = [None, {"rule": "stdp", "A_plus": 0.01, "A_minus": 0.012, "w_max": 0.5},
         {"rule": "stdp", "bound": "soft", "w_max": 0.5},
         {"rule": "nn_stdp", "w_max": 0.5, "A_plus": 0.002, "A_minus": 0.001},
         {"rule": "homeostatic_stdp", "w_max": 0.5, "T": 200.0, "Rtarget": 20.0}]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["rule"] + r.get("bound", "") if r else "static")
def test_numpy_and_numba_are_bit_identical(rule):
    a = neuromap.simulate(mixed(rule), 1500, backend="numpy")
    b = neuromap.simulate(mixed(rule), 1500, backend="numba")
    assert (a.backend, b.backend) == ("numpy", "numba")
    for pop in a.spikes:
        assert np.array_equal(a.spikes[pop][0], b.spikes[pop][0]), pop
        assert np.array_equal(a.spikes[pop][1], b.spikes[pop][1]), pop
    for pop in a.traces:
        for var in a.traces[pop]:
            assert np.array_equal(a.traces[pop][var], b.traces[pop][var]), (pop, var)
    for name in a.weights:
        assert np.array_equal(a.weights[name], b.weights[name]), name
    assert sum(len(a.spikes[p][0]) for p in ("L", "F", "Z", "E")) > 100  # the test is not vacuous
    if rule:
        assert not np.array_equal(a.weights["X_to_L"], mixed(rule).projections[0].weight)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_each_synapse_delivers_after_its_own_delay(backend):
    net = neuromap.Network(dt=1.0, seed=0)
    net.add_population("S", 2, "spike_source", times=[[0.0], [4.0]])
    net.add_population("F", 2, "if", v_th=100.0)
    # S0 -> F0 (delay 1, w 1), S0 -> F1 (delay 3, w 2), S1 -> F0 (delay 2, w 4, inh)
    net.connect("S", "F", {"rule": "list", "pre": [0, 0], "post": [0, 1]}, weight=[1.0, 2.0], delay=[1, 3])
    net.connect("S", "F", {"rule": "list", "pre": [1], "post": [0]}, weight=[4.0], delay=[2], target="inh")
    net.add_probe("F", "v")
    v = neuromap.simulate(net, 8, backend=backend).traces["F"]["v"]
    assert v[:, 0].tolist() == [0, 1, 1, 1, 1, 1, -3, -3]
    assert v[:, 1].tolist() == [0, 0, 0, 2, 2, 2, 2, 2]


def test_weights_come_back_in_projection_order():
    net = mixed({"rule": "stdp", "A_plus": 0.0, "A_minus": 0.0})  # plastic but no change
    res = neuromap.simulate(net, 50)
    for p in net.projections:
        assert np.array_equal(res.weights[p.name], p.weight)


def test_csr_layout_has_no_dense_matrix():
    net = neuromap.Network(dt=1.0, seed=0)
    net.add_population("A", 3000, "lif", **LIF)
    net.connect("A", "A", {"rule": "fixed_indegree", "k": 5}, weight=0.1, delay={"uniform_int": [1, 3]})
    lay = build(net)
    pl = lay.projs[0]
    assert pl.rowptr.shape == (3000 * 3 + 1,) and pl.rowptr[-1] == 15000
    assert all(a.size <= 3 * 3000 * 5 + 1 for a in (pl.pre_idx, pl.post_idx, pl.rowptr))


def test_backend_choice_and_errors():
    net = mixed({"rule": "vogels_isp"})
    assert neuromap.simulate(net, 5).backend == "numpy"  # auto: no compiled vogels_isp
    with pytest.raises(NeuromapError, match="vogels_isp"):
        neuromap.simulate(net, 5, backend="numba")
    with pytest.raises(NeuromapError, match="backend"):
        neuromap.simulate(net, 5, backend="gpu")
