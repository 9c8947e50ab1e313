"""The compiler's analysis manager (neuromap/compiler/analysis.py): an analysis is computed once and reused while
the state fields it depends on are the same objects, recomputed after a pass replaces one of them, and a
compile computes the synapse graph (place pass + its verifier) and the fan-in (legalize_fan_in + its verifier)
once each, with the same image as computing them at every use."""
from __future__ import annotations

import dataclasses

import numpy as np

from neuromap.compiler import fan_in as fan_in_mod
from neuromap.compiler.analysis import Analysis, AnalysisManager
from neuromap.compiler.pipeline import CompileState
from neuromap.io import load_network
from neuromap.toolchain import compile_network


@dataclasses.dataclass(frozen=True)
class State:
    network: object
    target: object
    analyses: AnalysisManager = dataclasses.field(default_factory=AnalysisManager)


def test_cached_while_the_dependencies_are_the_same_objects():
    calls = []
    size = Analysis("size", ("network",), lambda st: calls.append(1) or len(st.network))
    st = State([1, 2, 3], "t")
    am = st.analyses
    assert am.get(size, st) == 3 and am.get(size, st) == 3 and len(calls) == 1
    same = dataclasses.replace(st, target="other")        # a pass that changed only the target
    assert am.after_pass(st, same) == [] and am.get(size, same) == 3 and len(calls) == 1
    new = dataclasses.replace(same, network=[1, 2])        # a pass that replaced the network
    assert am.after_pass(same, new) == ["size"] and am.cached() == []
    assert am.get(size, new) == 2 and len(calls) == 2
    # an equal but distinct object is a new network: identity, not equality, decides
    assert am.get(size, dataclasses.replace(new, network=[1, 2])) == 2 and len(calls) == 3
    assert am.computed == {"size": 3} and am.reused == {"size": 2}


def test_released_when_no_remaining_pass_uses_it():
    calls = []
    used = Analysis("used", ("network",), lambda st: calls.append(1) or 1, ("place",))
    kept = Analysis("kept", ("network",), lambda st: 2)           # users unknown: kept for the whole compile
    st = State([1], "t")
    am = st.analyses
    am.get(used, st), am.get(kept, st)
    assert am.release_unused(["place", "lower"]) == [] and sorted(am.cached()) == ["kept", "used"]
    assert am.release_unused(["lower"]) == ["used"] and am.cached() == ["kept"]
    assert am.get(used, st) == 1 and len(calls) == 2                # asked again: computed again


def test_compile_state_carries_one_manager_through_replace():
    st = CompileState(network=None, target=None)
    assert dataclasses.replace(st, image=None).analyses is st.analyses


def test_compile_computes_graph_and_fan_in_once(monkeypatch):
    managers = []
    orig = AnalysisManager.__init__

    def init(self):
        orig(self)
        managers.append(self)
    monkeypatch.setattr(AnalysisManager, "__init__", init)
    net = load_network("examples/ramp_lif.yaml")
    img = compile_network(net, "loihi", placer="greedy").image
    (am,) = managers
    assert am.computed == {"fan_in": 1, "fan_out": 1, "synapse_graph": 1}
    assert am.reused == {"fan_in": 1, "fan_out": 1, "synapse_graph": 1}     # the verifiers read the passes' values
    assert am.cached() == []          # released once no later pass reads them (lower runs without the graph)
    # the same image as computing them at every use (no cache)
    monkeypatch.setattr(AnalysisManager, "get", lambda self, an, st: an.compute(st))
    ref = compile_network(net, "loihi", placer="greedy").image
    for group in ("neurons", "axons", "synapses", "cores", "routes"):
        a, b = getattr(img, group), getattr(ref, group)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), group


def test_fan_in_over_the_limit_is_recomputed_on_the_new_network(monkeypatch):
    """legalize_fan_in adds relays when a neuron is over the limit: it replaces the network, the manager drops
    the fan-in, and the verifier computes it again on the legalized network (which it checks)."""
    import neuromap
    from neuromap.targets import load_target
    loihi = load_target("loihi")
    small = dataclasses.replace(loihi, core=dataclasses.replace(loihi.core, max_input_axons=16))
    net = neuromap.Network(name="wide", dt=1.0, seed=0)
    net.add_population("inp", 40, "spike_source", times=[[float(i % 7)] for i in range(40)])
    net.add_population("out", 2, "loihi_lif", du=400, dv=100, vth=40, bias_mant=0, bias_exp=0)
    net.connect("inp", "out", weight=24, delay=3, weight_exp=2, num_weight_bits=8)
    managers, dropped = [], []
    orig_init, orig_after = AnalysisManager.__init__, AnalysisManager.after_pass

    def init(self):
        orig_init(self)
        managers.append(self)

    def after(self, before, after_st):
        dropped.append(orig_after(self, before, after_st))
        return dropped[-1]
    monkeypatch.setattr(AnalysisManager, "__init__", init)
    monkeypatch.setattr(AnalysisManager, "after_pass", after)
    res = compile_network(net, small, passes=["legalize_fan_in", "check_hw_units", "place", "lower"], placer="greedy",
                          fan_in_levels=4)
    assert res.reports.fan_in.relay_neurons > 0
    assert dropped[0] == ["fan_in"]                       # legalize_fan_in replaced the network
    assert managers[0].computed["fan_in"] == 2 and "fan_in" not in managers[0].reused
    assert fan_in_mod.population_fan_ins(net)["out"].max() == 40     # the original was over the limit
