"""Hand-computed single-neuron cases for lif, if, izhikevich, eif, poisson, spike_source."""
import math

import numpy as np
import pytest

from neuromap import simulate
from neuromap.errors import NetworkFormatError
from neuromap.network import Network, Population, Probe, Projection


def one_input(model, params, weight, target=("exc",), spike_ms=(0.0,), delay=1, probe=("v",), dt=1.0):
    """A spike_source neuron firing at ``spike_ms`` -> one neuron of ``model``."""
    net = Network(dt=dt, seed=1)
    net.populations["src"] = Population("src", 1, {"model": "spike_source", "times": [list(spike_ms)]})
    net.populations["n"] = Population("n", 1, {"model": model, **params})
    one = np.zeros(1, np.int64)
    net.projections.append(Projection("p", "src", "n", one, one, np.array([weight]), np.array([delay]), target))
    net.probes.append(Probe("n", probe))
    return net


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_lif_psp_is_exact_exponential_integration(backend):
    r = simulate(one_input("lif", {"tau_m": 10.0, "tau_syn": 2.0}, 0.5, probe=("v", "I")), 4, backend=backend)
    a, b = math.exp(-0.1), math.exp(-0.5)
    p = 2.0 / (2.0 - 10.0) * (b - a)
    v = r.traces["n"]["v"][:, 0]
    # spike emitted at step 0 arrives at step 1: I jumps to 0.5 and v integrates exactly over that step
    assert v[0] == 0.0
    assert v[1] == pytest.approx(0.5 * p, rel=1e-12)
    assert v[2] == pytest.approx(0.5 * p * a + 0.5 * b * p, rel=1e-12)
    assert r.traces["n"]["I"][1, 0] == pytest.approx(0.5 * b, rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_lif_threshold_reset_refractory(backend):
    net = Network(dt=1.0, seed=0)
    net.populations["n"] = Population("n", 1, {"model": "lif", "tau_m": 10.0, "bias": 2.0, "refractory": 2})
    r = simulate(net, 30, backend=backend)
    # v_n = 2(1 - exp(-n/10)) >= 1  <=>  n >= 10 ln 2 = 6.93: 7 integrating steps (steps 0..6), then 2 held
    assert r.spikes["n"][0].tolist() == [6, 15, 24]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_if_jumps_leak_and_inh(backend):
    net = one_input("if", {"v_th": 10.0, "leak": 0.25}, 0.75, spike_ms=(0.0, 2.0), delay=2)
    v = simulate(net, 5, backend=backend).traces["n"]["v"][:, 0]
    # leak -0.25 per step; spikes at 0 and 2 arrive (delay 2) at steps 2 and 4
    assert v.tolist() == [-0.25, -0.5, 0.0, -0.25, 0.25]
    net = one_input("if", {"v_th": 10.0}, 0.75, target=("inh",), delay=3)
    assert simulate(net, 4, backend=backend).traces["n"]["v"][:, 0].tolist() == [0.0, 0.0, 0.0, -0.75]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_izhikevich_midpoint_step_by_hand(backend):
    net = one_input("izhikevich", {}, 0.0, probe=("v", "u"))
    r = simulate(net, 1, backend=backend)
    # v=-65, u=-13: k_v = 2.4*-65 + 153 = -3, k_u = 0; midpoint v_m = -66.5, u_m = -13
    # v1 = -65 + (2.34*-66.5 + 153) = -67.61 ; u1 = -13 + 0.02*(0.2*-66.5 + 13) = -13.006
    assert r.traces["n"]["v"][0, 0] == pytest.approx(-67.61, abs=1e-12)
    assert r.traces["n"]["u"][0, 0] == pytest.approx(-13.006, abs=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_izhikevich_ampa_nmda_conductances(backend):
    w = 0.4
    net = one_input("izhikevich", {"v_init": -50.0, "u_init": -10.0}, w, target=("ampa", "nmda"),
                    probe=("v", "g_ampa", "g_nmda"))
    r = simulate(net, 2, backend=backend)
    # arrival at step 1 (v after step 0 from the trace): I uses g = w at the start of step 1
    v0 = r.traces["n"]["v"][0, 0]
    u0 = -10.0 + 0.02 * (0.2 * (-50.0 + 0.5 * ((0.04 * -50 + 5) * -50 + 150)) - (-10.0))  # u after step 0
    x = (v0 + 80.0) / 60.0
    gate = x * x / (1 + x * x)
    i_syn = w * (0 - v0) + w * gate * (0 - v0)
    f = lambda v, u: (0.04 * v + 5.0) * v + 140.0 - u + i_syn  # noqa: E731
    g = lambda v, u: 0.02 * (0.2 * v - u)  # noqa: E731
    vm, um = v0 + 0.5 * f(v0, u0), u0 + 0.5 * g(v0, u0)
    assert r.traces["n"]["v"][1, 0] == pytest.approx(v0 + f(vm, um), rel=1e-9)
    assert r.traces["n"]["g_ampa"][1, 0] == pytest.approx(w * math.exp(-1 / 5.0), rel=1e-12)
    assert r.traces["n"]["g_nmda"][1, 0] == pytest.approx(w * math.exp(-1 / 150.0), rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_izhikevich_spike_and_reset(backend):
    net = Network(dt=1.0, seed=0)
    net.populations["n"] = Population("n", 1, {"model": "izhikevich", "I_ext": 20.0})
    net.probes.append(Probe("n", ("v", "u")))
    r = simulate(net, 200, backend=backend)
    t = r.spikes["n"][0]
    assert len(t) >= 3
    assert r.traces["n"]["v"][t[0], 0] == -65.0  # v <- c
    u_before = r.traces["n"]["u"][t[0] - 1, 0]
    assert r.traces["n"]["u"][t[0], 0] > u_before + 7.0  # u <- u + d (d = 8) on top of one step of drift


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_eif_forward_euler_step(backend):
    net = one_input("eif", {"v_init": -60.0}, 0.8, probe=("v", "I_e"))
    r = simulate(net, 2, backend=backend)
    gl, el, vt = 1 / 15, -72.0, -55.0
    v0 = -60.0 + (-gl * (-60.0 - el) + gl * math.exp((-60.0 - vt)))
    assert r.traces["n"]["v"][0, 0] == pytest.approx(v0, rel=1e-12)
    ie = 0.8 / 8.0
    v1 = v0 + (-gl * (v0 - el) + gl * math.exp(v0 - vt) + ie)
    assert r.traces["n"]["v"][1, 0] == pytest.approx(v1, rel=1e-12)
    assert r.traces["n"]["I_e"][1, 0] == pytest.approx(ie * math.exp(-1 / 8.0), rel=1e-12)


def test_poisson_rates_and_determinism():
    net = Network(dt=1.0, seed=5)
    net.populations["p"] = Population("p", 4, {"model": "poisson", "rate": [0.0, 5.0, 50.0, 2000.0]})
    a = simulate(net, 20000, backend="numpy")
    b = simulate(net, 20000, backend="numba")
    assert np.array_equal(a.spikes["p"][0], b.spikes["p"][0])
    # 20 s: counts ~ Poisson(100), Poisson(1000); 2000 Hz at dt 1 ms is 2 events per step (a Poisson count,
    # ~Poisson(40000) events in 20 s; before multiplicity it saturated at one spike every step, 1000 Hz)
    assert a.rates["p"][0] == 0.0
    assert abs(a.rates["p"][1] - 5.0) < 4 * math.sqrt(100) / 20
    assert abs(a.rates["p"][2] - 50.0) < 4 * math.sqrt(1000) / 20
    assert abs(a.rates["p"][3] - 2000.0) < 4 * math.sqrt(40000) / 20
    c = simulate(net, 5000, backend="numpy")  # a shorter run is a prefix of the longer one
    m = a.spikes["p"][0] < 5000
    assert np.array_equal(c.spikes["p"][1], a.spikes["p"][1][m])
    net.seed = 6
    assert not np.array_equal(simulate(net, 5000).spikes["p"][0], c.spikes["p"][0])


def test_spike_source_times_and_bad_times():
    net = Network(dt=0.5, seed=0)
    net.populations["s"] = Population("s", 2, {"model": "spike_source", "times": [[1.0, 1.2, 3.0], [0.0]]})
    r = simulate(net, 10)
    assert list(zip(*[x.tolist() for x in r.spikes["s"]])) == [(0, 1), (2, 0), (6, 0)]
    net.populations["s"].neuron["times"] = [[1.0], [-2.0]]
    with pytest.raises(NetworkFormatError, match=r"times\[1\]\[0\]"):
        simulate(net, 10)


def test_unknown_target_and_bad_delay():
    net = one_input("lif", {}, 0.5, target=("nmda",))
    with pytest.raises(NetworkFormatError, match="no target 'nmda'"):
        simulate(net, 2)
    net = one_input("lif", {}, 0.5, delay=0)
    with pytest.raises(NetworkFormatError, match="delay"):
        simulate(net, 2)
