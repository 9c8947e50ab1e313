"""Fan-in legalization: relay trees compute exactly what the original computes where the scheme is exact."""
import dataclasses

import numpy as np
import pytest

import neuromap
from neuromap.compiler.fan_in import fan_in, legalize_fan_in
from neuromap.errors import TargetError
from neuromap.targets import load_target
from neuromap.toolchain import compile_network

LOIHI = load_target("loihi")
SMALL = dataclasses.replace(LOIHI, core=dataclasses.replace(LOIHI.core, max_input_axons=16))


def _hw_net(delay: int, weights, n_in: int = 40, plastic: bool = False):
    net = neuromap.Network(name="wide", dt=1.0, seed=0)
    rng = np.random.default_rng(2)
    times = [sorted(rng.choice(100, 4, replace=False).astype(float).tolist()) for _ in range(n_in)]
    net.add_population("inp", n_in, "spike_source", times=times)
    net.add_population("out", 2, "loihi_lif", du=400, dv=100, vth=40, bias_mant=0, bias_exp=0)
    net.connect("inp", "out", weight=weights, delay=delay, weight_exp=2, num_weight_bits=8)
    if plastic:
        net.projections[0].plasticity = {"rule": "stdp"}
    return net


def _out_spikes(net, steps=110):
    from emulator import emulate
    image = compile_network(net, LOIHI, passes=["check_hw_units", "partition", "lower"]).image
    run = emulate(image, steps, engine="numpy")
    pm = image.population("out")
    sel = (run.spikes[:, 1] >= pm.start) & (run.spikes[:, 1] < pm.start + pm.size)
    return [(int(t), int(i - pm.start)) for t, i in run.spikes[sel]]


def _max_group_count(net, size=16):
    """Largest number of inputs of one relay group (consecutive blocks of 16) spiking in one step."""
    steps = np.zeros((100, 40), int)
    for i, tt in enumerate(net.populations["inp"].neuron["times"]):
        steps[np.asarray(tt, int), i] = 1
    return max(steps[:, k:k + size].sum(axis=1).max() for k in range(0, 40, size))


def test_equal_weights_are_exact_with_same_latency():
    net = _hw_net(3, 24)
    legal, rep = legalize_fan_in(net, SMALL, levels=4)
    assert rep.max_fan_in == {"out": 40} and rep.neurons_split == {"out": 2}
    # 40 inputs, 16 allowed: each neuron sheds 24, so its first 32 inputs go to two groups of 16 (4 relays
    # each: 32 -> 8 inputs) and inputs 32..39 stay direct (all 40 were relayed before: 6 groups, 24 relays)
    assert rep.groups == 4 and rep.quantum == [24] * 4
    assert rep.levels == [4] * 4 and rep.exact_up_to == [96] * 4 and rep.late_synapses == 0
    assert rep.relay_neurons == 16 and rep.relay_synapses == 2 * (16 + 16) * 4 + 16
    direct = legal.projections[0]
    assert direct.n_synapses == 2 * 8 and set(direct.pre_idx.tolist()) == set(range(32, 40))
    assert _max_group_count(net) <= 4          # the regime where the tree is exact
    assert fan_in(legal, "out").max() <= 16 and fan_in(legal, "out__fan_in_relay").max() <= 16
    ref = _out_spikes(net)
    assert len(ref) > 5 and _out_spikes(legal) == ref


def test_delay_one_costs_one_step():
    # relayed delay-1 inputs (the first 32 of each neuron) arrive one step late, the direct ones on time:
    # the legalized network spikes as the original with delay 2 on the relayed inputs
    net = _hw_net(1, 24)
    legal, rep = legalize_fan_in(net, SMALL, levels=4)
    assert rep.late_synapses == 64 and rep.extra_latency_steps == 1
    late = _hw_net(1, 24)
    pr = late.projections[0]
    late.projections[0] = dataclasses.replace(pr, delay=np.where(pr.pre_idx < 32, 2, 1).astype(pr.delay.dtype))
    assert _out_spikes(legal) == _out_spikes(late) != _out_spikes(net)


def test_unequal_weights_use_gcd_units():
    net = _hw_net(2, 24)
    pr = net.projections[0]
    pr.weight[:] = np.array([8, 16, 24, 32])[pr.pre_idx % 4]   # gcd 8 -> units 1..4; q = ceil(4 * 4 / 64) = 1
    legal, rep = legalize_fan_in(net, SMALL, levels=5)
    assert set(rep.quantum) == {8} and rep.inexact_groups == 0 and set(rep.levels) == {5}
    assert _out_spikes(legal) == _out_spikes(net)


def test_plastic_inputs_over_the_limit_are_an_error():
    # 40 plastic inputs x plastic_axon_slots (2 on loihi) = 80 axon slots
    with pytest.raises(TargetError, match="fan-in 80 exceeds 16 input axons per core and 40 inputs are plastic"):
        legalize_fan_in(_hw_net(2, 24, plastic=True), SMALL)


def test_under_the_limit_is_unchanged():
    net = _hw_net(2, 24)
    legal, rep = legalize_fan_in(net, LOIHI)
    assert legal is net and rep.neurons_split == {}


def test_legalized_projections_keep_narrow_dtypes():
    # some posts over the limit (relayed), some under (kept): no int64 index or float64 weight copies of the
    # whole projection (issue 16: the microcircuit at scale 0.7 spent ~1.9 GB on them); same spikes
    net = _hw_net(2, 24, n_in=40)
    pr = net.projections[0]
    under = pr.post_idx == 1
    keep = ~under | (pr.pre_idx < 10)                 # post 1 keeps 10 inputs (under 16), post 0 all 40
    net.projections[0] = dataclasses.replace(pr, pre_idx=pr.pre_idx[keep], post_idx=pr.post_idx[keep],
                                             weight=np.asarray(pr.weight)[keep].astype(np.int16),
                                             delay=pr.delay[keep])
    legal, rep = legalize_fan_in(net, SMALL, levels=4)
    assert rep.neurons_split == {"out": 1}
    kept = legal.projections[0]                       # post 1's 10 inputs and post 0's last 8 (it sheds 24)
    assert kept.n_synapses == 18 and kept.post_idx.tolist() == [0] * 8 + [1] * 10
    assert kept.pre_idx[:8].tolist() == list(range(32, 40))
    for p in legal.projections[:2]:                   # the kept synapses and the inputs into the relays
        assert p.pre_idx.dtype == np.int32 and p.post_idx.dtype == np.int32, p.name
        assert p.weight.dtype == np.int16 and p.delay.dtype == pr.delay.dtype, p.name
    assert _out_spikes(legal) == _out_spikes(net)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_mixed_sign_multapse_projections_spike_as_the_original(seed):
    # several projections into one population, mixed signs, unsorted synapses with repeated (pre, post) pairs,
    # delays >= 2 (one per pair), one spike per input at distinct steps (every partial sum within the banks'
    # exact range): the legalized network spikes as the original, and only the inputs a neuron must shed are
    # relayed
    rng = np.random.default_rng(seed)
    n_in, n_out = 60, 4
    net = neuromap.Network(name="mixed", dt=1.0, seed=seed)
    steps = rng.permutation(n_in) + 3
    net.add_population("a", n_in // 2, "spike_source", times=[[float(t)] for t in steps[:n_in // 2]])
    net.add_population("b", n_in // 2, "spike_source", times=[[float(t)] for t in steps[n_in // 2:]])
    net.add_population("out", n_out, "loihi_lif", du=4000, dv=3000, vth=30, bias_mant=0, bias_exp=0)
    for pre in ("a", "b"):
        n_syn = int(rng.integers(12, 24))
        pre_idx = rng.integers(0, n_in // 2, n_syn).astype(np.int32)
        post_idx = rng.integers(0, n_out, n_syn).astype(np.int32)
        w = rng.choice([-12.0, 12.0], n_syn)
        w[pre_idx % 7 == 0] = 12.0                 # repeated pairs of one sign: merged, weights summed
        net.connect(pre, "out", weight=12.0, delay=2, weight_exp=2, num_weight_bits=8)
        pr = net.projections[-1]
        net.projections[-1] = dataclasses.replace(pr, pre_idx=pre_idx, post_idx=post_idx, weight=w,
                                                  delay=(2 + (pre_idx + post_idx) % 3).astype(pr.delay.dtype))
    net.add_population("c", 14, "spike_source", times=[[float(t)] for t in rng.permutation(14) + 70])
    net.connect("c", "out", weight=9.0, delay=3, weight_exp=2, num_weight_bits=8)   # all-to-all, sorted
    fi = fan_in(net, "out")
    assert fi.max() > 16
    legal, rep = legalize_fan_in(net, SMALL, levels=2)
    assert fan_in(legal, "out").max() <= 16 and fan_in(legal, "out__fan_in_relay").max() <= 16
    assert rep.inexact_groups == 0 and rep.late_synapses == 0 and set(rep.levels) == {2}
    # each group of s inputs becomes 2 relays: what was relayed is at most what had to go plus 2 per group
    relay_in = sum(p.n_synapses for p in legal.projections if p.post == "out__fan_in_relay")
    assert relay_in // 2 <= int(np.maximum(fi - 16, 0).sum()) + 2 * rep.groups < int(fi.sum())
    ref = _out_spikes(net, 110)
    assert len(ref) > 10 and _out_spikes(legal, 110) == ref
