"""Plastic images whose projections learn with neuromap's integer seed rules (pool_stdp, homeostatic_stdp /
nn_stdp, vogels_isp, clopath) run inside Lava as ``NeuromapPlasticSparse`` (backends/lava/procs/
plastic_connection.py): identical to the independent scalar oracle of tests/oracles (spikes, u and v of every
neuron every step, stored weights every 10 steps; compiled and random engine constants), the exported script
runs like the emulator, and what the process cannot hold is refused in one line."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from backends.lava.compat import lava_available
from neuromap.toolchain import compile_network
from neuromap.errors import ImageError
from neuromap.network import Network
from tests.oracles import loihi_core
from tests.oracles.cases import RULES, plastic_net, with_learning

LIF = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
STEPS = 150


def source(n: Network, name: str, size: int, rate, seed: int = 3) -> None:
    """Inputs firing at ``rate`` Hz (scalar or per neuron), as explicit spike times over STEPS steps of 1 ms
    (the scalar oracle replays explicit times, not the Poisson stream)."""
    rng = np.random.default_rng([seed, size])
    rates = np.broadcast_to(np.asarray(rate, float), (size,))
    n.add_population(name, size, neuron="spike_source",
                     times=[np.flatnonzero(rng.random(STEPS) < r / 1000.0).astype(float).tolist() for r in rates])


def ramp_net():
    """Small seed-003 Ramp (examples/ramp_lif.yaml): 16 inputs -> nn_stdp pop1, homeostatic pop2."""
    n = Network(seed=7)
    source(n, "inp", 16, list(np.linspace(5.0, 80.0, 16)))
    n.add_population("pop1", 1, neuron="lif", **LIF)
    n.add_population("pop2", 1, neuron="lif", **LIF)
    stdp = dict(tau_plus=20.0, tau_minus=60.0, A_plus=0.03, A_minus=0.0099, w_min=0.0, w_max=0.45)
    for post, rule in (("pop1", dict(rule="nn_stdp")),
                       ("pop2", dict(rule="homeostatic_stdp", alpha=0.1, beta=1.0, gamma=50.0, Rtarget=35.0, T=100.0))):
        n.connect("inp", post, connect={"rule": "all_to_all"}, weight={"uniform": [0.15, 0.45]}, delay=1,
                  target="exc", plasticity={**rule, **stdp})
    return n


def pool_net():
    """examples/pool_neuron.yaml in small: 12 inputs -> 2 LIF with the receptor-pool STDP (seed 000)."""
    n = Network(seed=0)
    source(n, "inp", 12, list(np.linspace(10.0, 120.0, 12)))
    n.add_population("out", 2, neuron="lif", **LIF)
    n.connect("inp", "out", connect={"rule": "all_to_all"}, weight={"uniform": [0.5, 1.2]}, delay=1, target="exc",
              plasticity=dict(rule="pool_stdp", a_plus=0.05, a_minus=0.05, tau_plus=5.0, tau_minus=5.0, w_min=0.0,
                              w_max=1.5, pw_init=0.5, pw_set=0.3, alpha_r=0.5, k_pw=0.05, alpha_s=1.0, beta_s=0.5,
                              alpha_c=0.2, beta_c=1.0, gamma_c=0.2, k_cg=0.5, soma_mode="functional", g_soma=0.01,
                              pw_soma_init=0.1, alpha_ss=0.01, w_goal_sum=2.0))
    return n


def ei_net():
    """examples/balanced_ei.yaml in small: X -> E, I; E -> I with delay 2; inhibitory I -> E learns (seed 004)."""
    n = Network(seed=1)
    source(n, "X", 12, 80.0)
    n.add_population("E", 12, neuron="lif", **LIF)
    n.add_population("I", 4, neuron="lif", **LIF)
    n.connect("X", "E", connect={"rule": "fixed_indegree", "k": 6}, weight=1.5, delay=1, target="exc")
    n.connect("X", "I", connect={"rule": "fixed_indegree", "k": 6}, weight=1.5, delay=1, target="exc")
    n.connect("E", "I", connect={"rule": "fixed_indegree", "k": 4}, weight=0.3, delay=2, target="exc")
    n.connect("I", "E", connect={"rule": "fixed_indegree", "k": 3}, weight=0.3, delay=1, target="inh",
              plasticity=dict(rule="vogels_isp", eta=0.05, rho0=5.0, tau_stdp=20.0, w_min=0.0, w_max=2.0))
    return n


def clopath_net(n=None, refractory=0):
    """Clopath on LIF posts (the loihi pairing of bench/clopath_accuracy.py, driven by random inputs): the rule reads v
    (``refractory`` > 0: the post is a LIFRefractoryWithV, else a LIFWithV)."""
    n = n or Network(seed=2)
    source(n, "pre", 8, 60.0)
    source(n, "drive", 3, 30.0)
    n.add_population("post", 3, neuron="lif", tau_m=10.0, tau_syn=2.0, v_rest=-70.6, v_reset=-70.6, v_th=-50.4,
                     v_init=-70.6, refractory=refractory)
    n.connect("pre", "post", connect={"rule": "all_to_all"}, weight=0.5, delay=1, name="syn",
              plasticity=dict(rule="clopath", A_LTD=7e-4, A_LTP=5e-3, theta_minus=-70.6, theta_plus=-60.0,
                              tau_minus=10.0, tau_plus=7.0, tau_x=15.0, delay_u=0, u_init=-70.6, w_min=0.0, w_max=1.0))
    n.connect("drive", "post", connect={"rule": "one_to_one"}, weight=200.0, delay=1)
    return n


NETS = {"homeostatic_stdp": ramp_net, "pool_stdp": pool_net, "vogels_isp": ei_net,
        "clopath": lambda: clopath_net(refractory=2)}


def initial_weights(img, k):
    syn_proj = img.synapse_projections()
    return img.synapses["weight"][syn_proj == k]


def lava_vs_oracle(img, steps: int, every: int):
    """Lava (fixed_pt, neuromap's NeuromapPlasticSparse) == the scalar oracle: spikes and u, v of every neuron
    every step, every plastic projection's stored weights every ``every`` steps."""
    from backends.lava.run import run_lava_raw
    ref = loihi_core.run(img, steps)
    got = run_lava_raw(img, steps, probe=np.arange(img.n_neurons), weight_every=every)
    assert np.array_equal(got.events(), ref.spikes)
    assert np.array_equal(got.u, ref.u) and np.array_equal(got.v, ref.v)
    assert got.weight_steps.tolist() == list(range(every - 1, steps, every))
    for k, w in ref.weights.items():
        assert np.array_equal(got.weights[k], w[got.weight_steps]), img.projections[k].name
    return ref


@pytest.mark.parametrize("engine", sorted(NETS))
@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_seed_rule_image_in_lava_equals_oracle(engine):
    """Each seed rule's image in Lava against the independent oracle (tests/oracles), not against the
    emulator (the Lava process advances the emulator's own engine: emulator == Lava would check plumbing only)."""
    from backends.lava.plan import plan_image
    img = compile_network(NETS[engine](), "loihi").image
    plastic = [k for k, pm in enumerate(img.projections) if pm.learning]
    assert {img.projections[k].learning["engine"] for k in plastic} == {engine}
    plan = plan_image(img)
    assert [c.seed_rule for c in plan.connections if c.learning] == [True] * len(plastic)
    if engine == "clopath":   # the post sends v from the refractory LIF variant
        assert [g.refractory is not None for g in plan.groups if g.population == "post"] == [True]
    ref = lava_vs_oracle(img, STEPS, every=10)
    # the run is not trivial: every post population fires and every plastic projection learns
    for k in plastic:
        pm = img.projections[k]
        post = img.population(pm.post)
        assert np.any((ref.spikes[:, 1] >= post.start) & (ref.spikes[:, 1] < post.start + post.size)), pm.post
        assert np.count_nonzero(ref.weights[k][-1] != initial_weights(img, k)) >= 4, pm.name


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_random_engine_constants_in_lava_equal_oracle():
    """Every seed rule in one image with random integer constants (rounding edges, saturation, delays)."""
    img = compile_network(plastic_net(sorted(RULES), seed=8, steps=40), "loihi", placer="greedy").image
    img = with_learning(img, np.random.default_rng(8))
    lava_vs_oracle(img, 40, every=5)


def combined_net():
    """pool_stdp (learning arrays) and clopath (v port) in one image, for the exported script."""
    n = pool_net()
    return clopath_net(n)


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc not installed")
def test_exported_script_runs_seed_rules(tmp_path):
    from backends.emulator import run
    from backends.lava.export import export_script
    img = compile_network(combined_net(), "loihi").image
    script, npz = export_script(img, tmp_path / "net_lava.py", steps=80)
    text = script.read_text()
    assert "NeuromapPlasticSparse(" in text and "LIFWithV(" in text and ".v_out.connect(" in text
    p = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "r.npz")], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    got = np.load(tmp_path / "r.npz")
    emu = run(img, 80, "numpy")
    N = img.n_neurons
    want = []
    for pop in img.populations:
        ev = emu.spikes[pop.name]
        base = pop.start + (0 if pop.kind == "neuron" else N)
        want.append(np.stack([ev[:, 0], ev[:, 1] + base], axis=1))
    want = np.concatenate(want)
    want = want[np.lexsort((want[:, 1], want[:, 0]))]
    assert np.array_equal(got["spikes"], want)
    for name in ("inp_to_out", "syn"):
        assert np.array_equal(got["weights/" + name], emu.weights[name][-1]), name


def test_seed_rule_projection_split_over_lif_processes_is_refused():
    from backends.lava.plan import plan_image
    img = compile_network(pool_net(), "loihi").image
    out = img.population("out")
    plan_image(img)                                  # one LIF per population: fine
    img.neurons["du"][out.start] += 1                # out's two neurons differ in du -> two LIF processes
    with pytest.raises(ImageError, match=r"^image projection 0 \(inp_to_out\): learning engine 'pool_stdp' "
                                         r"needs the whole projection in one Lava process pair, but population 'out' "
                                         r"is split \(give it one du/dv/vth, or run on the emulator\)$"):
        plan_image(img)


def test_unknown_engine_is_refused_in_one_line():
    import dataclasses

    from backends.lava.plan import plan_image
    img = compile_network(pool_net(), "loihi").image
    pm = dataclasses.replace(img.projections[0], learning={**img.projections[0].learning, "engine": "nope"})
    img = dataclasses.replace(img, projections=[pm])
    with pytest.raises(ImageError, match=r"^image projection 0 \(inp_to_out\): learning engine 'nope' is unknown"):
        plan_image(img)
