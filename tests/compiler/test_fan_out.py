"""Fan-out legalization: relay neurons repeat their source's spikes one step later, so the relayed network's
original neurons spike exactly as the unrelayed network's (scalar oracle of the loihi_lif core), and no
neuron keeps more targets than the output-axon limit."""
import dataclasses

import numpy as np
import pytest

import neuromap
from neuromap.compiler.fan_in import fan_in
from neuromap.compiler.fan_out import RELAY_SUFFIX, fan_out, legalize_fan_out
from neuromap.compiler.fidelity import FidelityError, enforce
from neuromap.compiler.result import CompileReports
from neuromap.errors import TargetError
from neuromap.targets import load_target
from neuromap.toolchain import compile_network
from tests.helpers.images import population_spikes
from tests.oracles import loihi_core

LOIHI = load_target("loihi")
K = 8
SMALL = dataclasses.replace(LOIHI, core=dataclasses.replace(LOIHI.core, max_output_axons=K))
LOWER = ["check_hw_units", "partition", "lower"]      # both networks lowered for the same (unlimited) cores


def _net(seed: int, delay_lo: int = 2, delay_hi: int = 6, n_a: int = 3, n_b: int = 24):
    """Inputs drive ``a`` one to one (a relay-like neuron: it fires whenever its input does, consecutive steps
    included); ``a`` -> ``b`` all to all and ``b`` -> ``b`` random (fan-outs above K), ``b`` -> ``a`` back."""
    rng = np.random.default_rng(seed)
    net = neuromap.Network(name="fanout", dt=1.0, seed=seed)
    times = [sorted({float(t) for t in rng.choice(60, 25, replace=False)} | {10.0, 11.0, 12.0}) for _ in range(n_a)]
    net.add_population("inp", n_a, "spike_source", times=times)
    net.add_population("a", n_a, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("b", n_b, "loihi_lif", du=300, dv=200, vth=30, bias_mant=4, bias_exp=3)
    net.connect("inp", "a", "one_to_one", weight=1, delay=1, weight_exp=0, num_weight_bits=8)
    for pre, post, p, w in (("a", "b", 1.0, (10, 60)), ("b", "b", 0.6, (-40, 30)), ("b", "a", 0.2, (-4, 6))):
        n_pre, n_post = net.populations[pre].size, net.populations[post].size
        mask = rng.random((n_post, n_pre)) < p
        post_i, pre_i = np.nonzero(mask)
        net.connect(pre, post, {"rule": "list", "pre": pre_i, "post": post_i},
                    weight=rng.integers(w[0], w[1], pre_i.size).astype(float),
                    delay=rng.integers(delay_lo, delay_hi + 1, pre_i.size), weight_exp=1, num_weight_bits=8)
    return net


def _spikes(net, steps=80):
    """(step, population, index) of every spike of ``net``'s own neurons on the scalar oracle."""
    img = compile_network(net, LOIHI, passes=LOWER).image
    return population_spikes(img, loihi_core.run(img, steps).spikes, RELAY_SUFFIX)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relayed_network_spikes_exactly_as_the_original(seed):
    net = _net(seed)
    legal, rep = legalize_fan_out(net, SMALL)
    assert rep.neurons_split["a"] == 3 and rep.neurons_split["b"] > 0 and rep.late_synapses == 0
    assert all(fan_out(legal, p).max() <= K for p in ("a", "b", "a" + RELAY_SUFFIX, "b" + RELAY_SUFFIX))
    for p in ("a", "b"):     # every post neuron: one input axon per (projection, source) before and after
        assert np.array_equal(fan_in(legal, p), fan_in(net, p))
    ref = _spikes(net)
    assert len({s for s in ref if s[1] == "a"}) > 15 and len({s for s in ref if s[1] == "b"}) > 20
    assert any((t + 1, "a", i) in ref for t, p, i in ref if p == "a")     # a source firing on consecutive steps
    assert _spikes(legal) == ref


def test_report_numbers_and_split():
    net = neuromap.Network(name="broadcast", dt=1.0, seed=0)
    net.add_population("a", 3, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("b", 20, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.connect("a", "b", "all_to_all", weight=3, delay=4, weight_exp=0, num_weight_bits=8)
    legal, rep = legalize_fan_out(net, SMALL)
    # U = 20 > 8: R = ceil((20 - 8) / 7) = 2 relays, B = 8 - 2 = 6 direct, 14 relayed in runs of 7
    assert rep.limit == K and rep.max_fan_out == {"a": 20, "b": 0} and rep.neurons_split == {"a": 3}
    assert rep.relay_neurons == 6 and rep.relay_synapses == 6 and rep.synapses_relayed == 42
    assert rep.late_synapses == 0 and rep.extra_latency_steps == 0
    assert list(legal.populations) == ["a", "a" + RELAY_SUFFIX, "b"]
    direct, relayed, into = legal.projections
    assert direct.n_synapses == 18 and np.array_equal(np.bincount(direct.pre_idx), [6, 6, 6])
    assert np.array_equal(np.bincount(relayed.pre_idx), [7] * 6) and set(relayed.delay.tolist()) == {3}
    assert relayed.pre_idx.dtype == np.int32 and relayed.delay.dtype == net.projections[0].delay.dtype
    assert np.array_equal(into.pre_idx, [0, 0, 1, 1, 2, 2]) and np.array_equal(into.post_idx, np.arange(6))
    assert into.weight.dtype == np.int16 and set(into.delay.tolist()) == {1}
    # each relay takes one contiguous run of posts: relay 2j serves b[6..12], relay 2j+1 b[13..19] of a[j]
    for r in range(6):
        posts = np.sort(relayed.post_idx[relayed.pre_idx == r])
        assert np.array_equal(posts, np.arange(6, 13) if r % 2 == 0 else np.arange(13, 20))


def _fast_net(delays):
    """An input drives ``a`` (fires one step after it); ``a`` -> 20 ``b`` neurons that fire whenever input arrives."""
    net = neuromap.Network(name="fast", dt=1.0, seed=0)
    net.add_population("inp", 1, "spike_source", times=[[3.0, 4.0, 9.0, 20.0]])
    net.add_population("a", 1, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("b", 20, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.connect("inp", "a", "one_to_one", weight=1, delay=1, weight_exp=0, num_weight_bits=8)
    net.connect("a", "b", {"rule": "list", "pre": np.zeros(20, int), "post": np.arange(20)}, weight=3,
                delay=np.asarray(delays), weight_exp=0, num_weight_bits=8)
    return net


def test_delay_one_targets_stay_direct_first_then_arrive_late():
    d = np.full(20, 5)
    d[[3, 9, 15]] = 1             # three delay-1 targets fit the 6 direct units: nothing late
    net = _fast_net(d)
    legal, rep = legalize_fan_out(net, SMALL)
    assert rep.late_synapses == 0 and set(legal.projections[1].post_idx.tolist()) == {0, 1, 2, 3, 9, 15}
    assert _spikes(legal) == _spikes(net)
    net = _fast_net(np.ones(20, int))   # 20 delay-1 targets: 6 direct (b[0..5]), 14 one step late
    legal, rep = legalize_fan_out(net, SMALL)
    assert rep.late_synapses == 14 and rep.extra_latency_steps == 1
    assert set(legal.projections[2].delay.tolist()) == {1}
    ref = _spikes(net)
    assert len(ref) == 4 + 4 * 20
    assert _spikes(legal) == {(t + (p == "b" and i >= 6), p, i) for t, p, i in ref}


def test_late_synapses_are_a_loss_that_strict_refuses():
    res = compile_network(_fast_net(np.ones(20, int)), SMALL, placer="sequential", rate_check="never")
    assert res.reports.fan_out.late_synapses == 14 and res.reports.fidelity.synapses_late == 14
    enforce(res.reports.fidelity, strict=False)
    with pytest.raises(FidelityError, match=r"--strict: 14 delay-1 synapse\(s\) arrive one step late"):
        enforce(res.reports.fidelity, strict=True)


def test_multapses_take_one_path():
    net = neuromap.Network(name="multi", dt=1.0, seed=0)
    net.add_population("a", 2, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("b", 12, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    rng = np.random.default_rng(0)
    pre = np.concatenate([np.zeros(12, int), np.ones(12, int), np.zeros(12, int)])
    post = np.concatenate([np.arange(12), np.arange(12), np.arange(12)])
    d = np.where(np.arange(pre.size) >= 24, 1, 4)     # every pair of a[0] twice, delays 4 and 1
    perm = rng.permutation(pre.size)                 # unsorted
    net.connect("a", "b", {"rule": "list", "pre": pre[perm], "post": post[perm]}, weight=2, delay=d[perm],
                weight_exp=0, num_weight_bits=8)
    legal, rep = legalize_fan_out(net, SMALL)
    assert fan_out(net, "a").tolist() == [12, 12] and fan_out(legal, "a").max() <= K
    assert np.array_equal(fan_in(legal, "b"), fan_in(net, "b"))
    # U = 12: R = 1 relay, B = 7 direct. a[0]'s units all hold a delay-1 synapse: 7 direct, 5 relayed with
    # both synapses (the delay-1 one late); a[1]: 7 direct, 5 relayed
    assert rep.relay_neurons == 2 and rep.late_synapses == 5 and rep.synapses_relayed == 5 * 2 + 5
    relayed = legal.projections[1]
    assert np.array_equal(np.bincount(relayed.pre_idx), [10, 5])
    assert np.array_equal(np.bincount(relayed.post_idx[relayed.pre_idx == 0], minlength=12), [0] * 7 + [2] * 5)


def test_compile_records_the_report():
    res = compile_network(_net(4), SMALL, placer="sequential", rate_check="never")
    rep = res.reports.fan_out
    assert rep.relay_neurons > 0 and res.reports.fidelity.synapses_late == 0
    rec = res.record("legalize_fan_out")
    assert rec.statistic("relay_neurons") == rep.relay_neurons
    assert rec.statistic("neurons_split") == sum(rep.neurons_split.values())
    assert CompileReports.from_options(res.image.options).fan_out == rep      # the manifest round trip
    assert sum(res.image.population(p + RELAY_SUFFIX).size for p in ("a", "b")) == rep.relay_neurons


def test_nothing_over_the_limit_keeps_the_network():
    net = _net(5)
    legal, rep = legalize_fan_out(net, LOIHI)
    assert legal is net and rep.neurons_split == {} and rep.relay_neurons == 0


def test_plastic_fan_out_over_the_direct_budget_is_an_error():
    net = neuromap.Network(name="plastic", dt=1.0, seed=0)
    net.add_population("a", 1, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("b", 20, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("c", 4, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.connect("a", "b", "all_to_all", weight=3, delay=4, weight_exp=0, num_weight_bits=8)
    net.connect("a", "c", "all_to_all", weight=3, delay=4, weight_exp=0, num_weight_bits=8)
    net.projections[1].plasticity = {"rule": "stdp"}     # 4 plastic units fit the 8 - 3 = 5 direct units
    legal, rep = legalize_fan_out(net, SMALL)
    kept = [pr for pr in legal.projections if pr.name == net.projections[1].name]
    assert len(kept) == 1 and kept[0] is net.projections[1] and rep.late_synapses == 0
    assert not any(pr.plasticity for pr in legal.projections if pr.pre.endswith(RELAY_SUFFIX))
    net.projections[0].plasticity = {"rule": "stdp"}     # 24 plastic units: more than any direct budget
    with pytest.raises(TargetError, match=r"projections\[0\] \(a_to_b\): neuron a\[0\] has 24 targets \(24 through "
                                          r"plastic synapses\).*plastic synapses cannot be relayed"):
        legalize_fan_out(net, SMALL)


def test_limit_one_is_an_error():
    tgt = dataclasses.replace(LOIHI, core=dataclasses.replace(LOIHI.core, max_output_axons=1))
    net = neuromap.Network(name="one", dt=1.0, seed=0)
    net.add_population("a", 1, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.add_population("b", 2, "loihi_lif", du=4095, dv=4095, vth=0, bias_mant=0, bias_exp=0)
    net.connect("a", "b", "all_to_all", weight=3, delay=4, weight_exp=0, num_weight_bits=8)
    with pytest.raises(TargetError, match="relays need at least 2"):
        legalize_fan_out(net, tgt)
