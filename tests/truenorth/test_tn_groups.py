"""Per-neuron float parameters on TrueNorth (neuromap/compiler/quantize_truenorth.py, ``tn_groups``): a population
whose thresholds, time constants or biases vary is quantized group by group, each group exactly as the same neurons
compiled as a population of their own; non-spiking readouts and groups that need different population-wide flags
are refused in one line naming the layer and field."""
from __future__ import annotations

import numpy as np
import pytest

from neuromap.compiler.quantize_truenorth import quantize_truenorth, tn_groups
from neuromap.errors import TargetError
from neuromap.network import Network
from neuromap.neurons.lif import NEVER_FIRES
from neuromap.targets import load_target
from neuromap.toolchain import compile_network, emulator_runner

TN = load_target("truenorth")
W = np.array([[0.4, 0.1, 0.0, 0.3], [0.2, 0.5, 0.1, 0.0], [0.0, 0.3, 0.6, 0.2],
              [0.5, 0.0, 0.2, 0.4], [0.1, 0.1, 0.3, 0.3], [0.3, 0.2, 0.0, 0.5]])
GROUPS = {"v_th": ([1.0, 1.0, 2.0, 1.0, 2.0, 2.0], 1.0), "tau_m": ([10.0, 20.0, 10.0, 20.0, 20.0, 10.0], 10.0),
          "bias": ([0.0, 1.5, 0.0, 1.5, 0.0, 0.3], 0.0)}


def _net(key, model="lif", per_neuron=True, rows=None):
    """input (4, Poisson) -> 'p' (6 neurons whose ``key`` varies) or, ``per_neuron=False``, the neurons ``rows``
    only as a population of their own with that group's value."""
    values, _ = GROUPS[key]
    rows = np.arange(6) if rows is None else np.asarray(rows)
    net = Network(name="g", dt=1.0, seed=2)
    net.add_population("inp", 4, "poisson", rate=80.0)
    neuron = {"model": model, "v_th": 1.0, "v_reset": 0.0}
    if model == "lif":
        neuron.update(tau_m=15.0, tau_syn=5.0)
    vals = np.asarray(values)[rows]
    neuron[key] = vals if per_neuron else float(vals[0])
    net.add_population("p", rows.size, neuron)
    m = W[rows]
    post, pre = np.nonzero(m)
    net.connect("inp", "p", {"rule": "list", "pre": pre, "post": post}, weight=m[post, pre])
    net.add_probe("p", "spikes")
    return net


@pytest.mark.parametrize("key", sorted(GROUPS))
def test_each_group_is_quantized_as_its_own_population(key):
    net = _net(key)
    groups = tn_groups(net.populations["p"])
    assert len(groups) == (3 if key == "bias" else 2)
    hw, rep = quantize_truenorth(net, TN)
    n = hw.populations["p"].neuron
    w = np.zeros((6, 4))
    pr = hw.projections[0]
    w[pr.post_idx, pr.pre_idx] = pr.weight
    entries = [q for q in rep.populations if q.name == "p"]
    assert sorted(tuple(q.neurons) for q in entries) == sorted(tuple(g.tolist()) for g in groups)
    for idx in groups:
        alone, arep = quantize_truenorth(_net(key, per_neuron=False, rows=idx), TN)
        a = alone.populations["p"].neuron
        for k in ("lambda", "alpha", "beta", "gamma", "R", "v_init"):
            assert np.array_equal(np.broadcast_to(n[k], (6,))[idx], np.broadcast_to(a[k], (idx.size,))), k
        for k in ("epsilon", "kappa", "c_lambda", "TM", "b"):
            assert n[k] == a[k]
        wa = np.zeros((idx.size, 4))
        wa[alone.projections[0].post_idx, alone.projections[0].pre_idx] = alone.projections[0].weight
        assert np.array_equal(w[idx], wa)
        (qa,) = [q for q in arep.populations if q.name == "p"]
        (qg,) = [q for q in entries if q.neurons == idx.tolist()]
        assert (qg.v_scale, qg.alpha, qg.lam, qg.bias_axon_weight) == (qa.v_scale, qa.alpha, qa.lam,
                                                                        qa.bias_axon_weight)


def test_a_split_population_with_always_on_bias_compiles_and_runs():
    # per-neuron biases: only the biased groups get always-on axons; the population stays one in the results
    net = _net("bias")
    hw, _ = quantize_truenorth(net, TN)
    (bias,) = [pr for pr in hw.projections if pr.name.startswith("_tn_bias:")]
    assert sorted(bias.post_idx.tolist()) == [1, 3]       # bias 1.5 fires alone: always-on axon; 0.3 does not
    res = compile_network(net, "truenorth", placer="sequential")
    sp = emulator_runner(res.image, 300)
    p = res.image.population("p")
    counts = np.bincount(sp[(sp[:, 1] >= p.start) & (sp[:, 1] < p.start + p.size), 1] - p.start, minlength=6)
    assert counts.sum() > 20 and p.size == 6, counts


def test_a_readout_is_refused_in_one_line_naming_the_layer():
    net = Network(name="r", dt=1.0, seed=0)
    net.add_population("inp", 4, "poisson", rate=100.0)
    net.add_population("ro", 2, "lif", v_th=NEVER_FIRES, tau_m=10.0)
    net.connect("inp", "ro", "all_to_all", weight=0.5)
    with pytest.raises(TargetError, match=r"populations\.ro\.neuron\.v_th: 'ro' is a non-spiking readout") as e:
        compile_network(net, "truenorth")
    assert "\n" not in str(e.value) and "compile for loihi" in str(e.value)


def test_groups_needing_different_population_flags_are_refused():
    # tau_m 0.05 ms forgets within a tick (memoryless: no leak reversal), 20 ms does not (leak reversal)
    net = Network(name="m", dt=1.0, seed=0)
    net.add_population("inp", 2, "poisson", rate=100.0)
    net.add_population("p", 2, "lif", tau_m=np.array([0.05, 20.0]), tau_syn=0.05, v_th=0.5)
    net.connect("inp", "p", "all_to_all", weight=1.0)
    with pytest.raises(TargetError, match=r"populations\.p\.neuron: neurons 0 and 1 need different TrueNorth "
                                          r"epsilon .* split the population by tau_m"):
        quantize_truenorth(net, TN)
