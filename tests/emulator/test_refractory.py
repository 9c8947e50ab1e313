"""Refractory period on loihi_lif (neuromap extension): hand-computed steps on every engine (the ``engine``
fixture: numpy, numba, the Lava backend), numpy == numba, Lava's fixed_pt model of it
(backends/lava/procs/lif_refractory.py), and the quantizer carrying float refractory periods over."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emulator import emulate
from neuromap.network import Network
from neuromap.targets import load_target
from neuromap.toolchain import compile_network

HW = ["check_hw_units", "partition", "lower"]


def _spike_steps(run, neuron=0):
    sp = run.spikes
    return sp[sp[:, 1] == neuron, 0].tolist()


def _driven(refractory, n=1, bias=100, **kw) -> Network:
    net = Network(seed=3)
    net.add_population("a", n, neuron="loihi_lif", du=0, dv=0, vth=1, bias_mant=bias, refractory=refractory, **kw)
    net.add_probe("a", ("spikes", "u", "v"))
    return net


def test_hand_computed_refractory_spike_train(engine):
    # bias 100 > vth<<6 = 64: spikes every step; R steps of hold after each spike
    assert _spike_steps(engine.run(compile_network(_driven(0), passes=HW).image, 10)) == list(range(10))
    img = compile_network(_driven(2), passes=HW).image
    run = engine.run(img, 10)
    assert _spike_steps(run) == [0, 3, 6, 9]
    assert run.v[:, 0].tolist() == [0] * 10                      # reset, then held at 0


def test_image_field_is_optional_and_round_trips(tmp_path):
    from neuromap.image import load_image
    assert "refractory" not in compile_network(_driven(0), passes=HW).image.neurons
    img = compile_network(_driven([1, 0, 4], n=3), passes=HW).image
    assert img.neurons["refractory"].tolist() == [1, 0, 4]
    assert load_image(img.save(tmp_path / "b")).neurons["refractory"].tolist() == [1, 0, 4]


def test_u_integrates_while_v_is_held(engine):
    # input spike at step 1 arrives at step 2 (delay 1) while the neuron (spiked at 0, R = 3) is held
    net = Network(seed=1)
    net.add_population("x", 1, neuron="spike_source", times=[[1.0]])
    net.add_population("a", 1, neuron="loihi_lif", du=2048, dv=0, vth=1000, bias_mant=0, v=64001, refractory=3)
    net.connect("x", "a", connect={"rule": "all_to_all"}, weight=100, weight_exp=0, num_weight_bits=8,
                sign_mode="mixed")
    net.add_probe("a", ("spikes", "u", "v"))
    run = engine.run(compile_network(net, passes=HW).image, 7)
    # step 0: v = 64001 > 64000 -> spike, v = 0, held for steps 1..3
    assert _spike_steps(run) == [0]
    u2 = 100 << 6                                                    # input at step 2
    u3 = (u2 * (4096 - 2049)) >> 12                                  # du = 2048: factor 2047/4096
    u4 = (u3 * 2047) >> 12
    assert run.u[:, 0].tolist()[:5] == [0, 0, u2, u3, u4]
    assert run.v[:, 0].tolist()[:4] == [0, 0, 0, 0]                  # held: u is not added to v
    assert run.v[4, 0] == u4                                         # step 4: integrates again


def test_numpy_equals_numba_on_random_refractory_network():
    rng = np.random.default_rng(11)
    net = Network(seed=2)
    net.add_population("a", 40, neuron="loihi_lif", du=300, dv=200, vth=50,
                       bias_mant=rng.integers(0, 400, 40).tolist(), refractory=rng.integers(0, 6, 40).tolist())
    net.add_population("b", 30, neuron="loihi_lif", du=100, dv=50, vth=80, refractory=2)
    net.connect("a", "b", connect={"rule": "fixed_probability", "p": 0.3}, weight=rng.integers(-60, 120, 1).item() * 2,
                weight_exp=1, num_weight_bits=7, sign_mode="mixed", delay=2)
    net.connect("b", "a", connect={"rule": "fixed_probability", "p": 0.2}, weight=-40, weight_exp=-1,
                num_weight_bits=8, sign_mode="mixed")
    img = compile_network(net, passes=HW).image
    a, b = emulate(img, 300, engine="numpy"), emulate(img, 300, engine="numba")
    assert np.array_equal(a.spikes, b.spikes) and a.spikes.shape[0] > 100
    assert np.array_equal(a.final_v, b.final_v) and np.array_equal(a.final_u, b.final_u)


def test_quantizer_carries_float_refractory():
    def net(refr):
        n = Network(dt=1.0, seed=4)
        n.add_population("x", 20, neuron="poisson", rate=200.0)
        n.add_population("y", 5, neuron="lif", tau_m=10.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=refr)
        n.connect("x", "y", connect={"rule": "all_to_all"}, weight=0.6)
        return n
    img = compile_network(net(5)).image
    assert img.neurons["refractory"].tolist() == [5] * 5
    assert not any("refractory" in w for w in img.options["quantization"]["warnings"])
    from neuromap.simulator import simulate
    steps = 2000
    rate_float = simulate(net(5), steps).spike_counts("y").sum() / (5 * steps)
    run = emulate(img, steps)
    y = img.population("y")
    src = run.spikes[:, 1]
    rate_hw = np.count_nonzero((src >= y.start) & (src < y.start + y.size)) / (5 * steps)
    assert rate_float > 0.1                                          # driven hard: refractoriness matters
    assert abs(rate_hw - rate_float) < 0.1 * rate_float
    assert rate_hw <= 1 / 6 + 1e-9                                   # at most one spike per R + 1 steps


@pytest.mark.lava
def test_lava_fixed_pt_model_matches_emulator():
    from backends.lava.compat import import_lava
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.monitor.process import Monitor

    from backends.lava.procs.lif_refractory import LIFRefractoryFixed

    rng = np.random.default_rng(5)
    n, steps = 12, 40
    bias = rng.integers(-50, 400, n)
    refr = rng.integers(0, 5, n)
    net = Network(seed=1)
    net.add_population("a", n, neuron="loihi_lif", du=700, dv=300, vth=20, bias_mant=bias.tolist(),
                       bias_exp=1, refractory=refr.tolist())
    net.add_probe("a", ("spikes", "u", "v"))
    run = emulate(compile_network(net, passes=HW).image, steps)
    lif = LIFRefractoryFixed(shape=(n,), du=700, dv=300, vth=20, bias_mant=bias.astype(np.int32), bias_exp=1,
                             refractory=refr)
    mons = {k: Monitor() for k in ("s_out", "v", "u")}
    for k, m in mons.items():
        m.probe(getattr(lif, k), steps)
    try:
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = {k: np.asarray(next(iter(m.get_data()[lif.name].values()))).reshape(steps, n).astype(np.int64)
               for k, m in mons.items()}
    finally:
        lif.stop()
    spikes = np.zeros((steps, n), np.int64)
    spikes[run.spikes[:, 0], run.spikes[:, 1]] = 1
    assert np.array_equal(got["s_out"], spikes)
    assert np.array_equal(got["v"], run.v) and np.array_equal(got["u"], run.u)
    assert spikes.sum() > 20


@pytest.mark.lava
def test_validate_and_export_lava_with_refractory(tmp_path):
    """The Lava backend runs refractory groups with LIFRefractoryFixed: validate is identical, and the
    exported standalone script reproduces the emulator's spikes."""
    import subprocess
    import sys

    from backends.lava.export import export_script
    from neuromap.validate import validate_image

    rng = np.random.default_rng(8)
    net = Network(seed=6)
    net.add_population("x", 10, neuron="poisson", rate=300.0)
    net.add_population("a", 8, neuron="loihi_lif", du=500, dv=400, vth=30, refractory=rng.integers(0, 4, 8).tolist())
    net.connect("x", "a", connect={"rule": "fixed_probability", "p": 0.5}, weight=120, weight_exp=0,
                num_weight_bits=8, sign_mode="mixed")
    net.add_probe("a", ("spikes", "u", "v"))
    img = compile_network(net, passes=HW).image
    line = validate_image(img, 60, probe_all=True)
    assert line.startswith("identical: 60 steps")
    emu = emulate(img, 60)
    assert np.count_nonzero(emu.spikes[:, 1] < img.n_neurons) > 30
    script, _ = export_script(img, tmp_path / "net_lava.py", steps=60)
    run = subprocess.run([sys.executable, str(script), "--out", "res.npz"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "LIFRefractoryFixed" in script.read_text()
    with np.load(tmp_path / "res.npz") as z:
        assert np.array_equal(z["spikes"], emu.spikes)


def test_delivery_runs_hold_every_route_walk_synapse_and_run_like_it():
    """emulator.program.flatten: per source, the (post, add, delay, slot) multiset of its runs equals the route
    walk's (an axon reached by two sources counts for both; an unreached axon for none); a run has one delay
    (or is slotted), sorted posts spanning < 2**16, packed add << 16 | offset; numba over runs == numpy's
    route walk, counters included."""
    import dataclasses

    from emulator.program import flatten, prepare
    rng = np.random.default_rng(4)
    net = Network(seed=9)
    net.add_population("a", 50, neuron="loihi_lif", du=200, dv=100, vth=40, bias_mant=rng.integers(0, 300, 50).tolist())
    net.add_population("b", 40, neuron="loihi_lif", du=100, dv=100, vth=60, refractory=1)
    net.connect("a", "b", connect={"rule": "fixed_probability", "p": 0.4}, weight={"uniform_int": [-256, 255]},
                weight_exp=7, num_weight_bits=8, sign_mode="mixed", delay={"uniform_int": [1, 4]})
    net.connect("b", "a", connect={"rule": "fixed_probability", "p": 0.3}, weight=-100, weight_exp=-2,
                num_weight_bits=8, sign_mode="mixed", delay={"uniform_int": [1, 3]})
    img = compile_network(net, passes=HW).image
    p = prepare(img)
    shared = p.route_axon.copy()
    shared[3] = shared[p.src_ptr[60]]                       # source of route 3 also reaches source 60's axon
    p = dataclasses.replace(p, route_axon=shared)
    f = flatten(p)
    _runs_hold_the_walk(p, f)
    assert (f.run_shift > 0).any() and len(set(f.run_delay[f.run_shift == 0].tolist())) == 4
    pr = np.arange(img.n_neurons)
    a, b = emulate(p, 200, engine="numpy", probe=pr), emulate(p, 200, probe=pr)
    for k in ("spikes", "u", "v", "core_spikes", "link_spikes", "final_u", "final_v"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert a.spikes.shape[0] > 100
    assert p.n_inputs == 0                                   # 2**17 neurons, the extra ones without routes
    pad = np.full((1 << 17) - p.n_neurons, p.src_ptr[-1])
    wide = dataclasses.replace(p, n_neurons=1 << 17, src_ptr=np.concatenate([p.src_ptr, pad]),
                               syn_post=p.syn_post.copy())
    once = np.flatnonzero(np.bincount(shared, minlength=p.axon_delay.size) == 1)
    q = next(q for g in once if not p.axon_slotted[g] for q in range(p.syn_ptr[g], p.syn_ptr[g + 1])
             if np.sum(p.syn_delay[p.syn_ptr[g]:p.syn_ptr[g + 1]] == p.syn_delay[q]) >= 2)
    wide.syn_post[q] += (1 << 16) + 90                       # one of two same-delay posts > 2**16 further
    w = flatten(wide)
    _runs_hold_the_walk(wide, w)
    assert w.run_syn.size == f.run_syn.size + 1            # that source's run of that delay is cut in two


def _runs_hold_the_walk(p, f):
    """Per source: the (post, add, delay, shift, slot) multiset of its runs == the route walk's (shift: the slot's,
    0 on direct synapses); each run's posts sorted from its base and spanning < 2**16."""
    from emulator.program import run_posts
    post, add = run_posts(f), f.run_packed.astype(np.int64) >> 16
    for s in range(p.n_neurons + p.n_inputs):
        walk = sorted((int(p.syn_post[q]), int(p.syn_add[q]), int(p.syn_delay[q]),
                       int(p.slot_shift[p.syn_slot[q]]) if p.syn_slot[q] >= 0 else 0, int(p.syn_slot[q]))
                      for r in range(p.src_ptr[s], p.src_ptr[s + 1])
                      for q in range(p.syn_ptr[p.route_axon[r]], p.syn_ptr[p.route_axon[r] + 1]))
        runs = range(f.run_ptr[s], f.run_ptr[s + 1])
        got = sorted((int(post[q]), int(add[q]), int(f.run_delay[j]), int(f.run_shift[j]), int(f.run_slot[q]))
                     for j in runs for q in range(f.run_syn[j], f.run_syn[j + 1]))
        assert walk == got, s
        for j in runs:
            q = post[f.run_syn[j]:f.run_syn[j + 1]]
            assert np.all(np.diff(q) >= 0) and q[0] == f.run_post_base[j] and q[-1] - q[0] < (1 << 16)


def test_dendritic_sum_wraps_like_lavas_int32_port(emulator_engine):
    """66 000 synapses of 255 << 7 arriving together sum past 2**31: the ring (int32) wraps exactly as
    Lava's int32 a_out/a_in does; hand-computed with Python integers."""
    n_in, w = 66000, 255 << 7
    net = Network(seed=1)
    net.add_population("x", n_in, neuron="spike_source", times=[[0.0]] * n_in)
    net.add_population("a", 1, neuron="loihi_lif", du=4095, dv=0, vth=131071)
    net.connect("x", "a", connect={"rule": "all_to_all"}, weight=255, weight_exp=7, num_weight_bits=8,
                sign_mode="excitatory")
    net.add_probe("a", ("spikes", "u", "v"))
    t = load_target("loihi")   # one neuron with 66 000 input axons: a core large enough to hold them
    big = dataclasses.replace(t, core=dataclasses.replace(t.core, max_input_axons=1 << 17, synapse_memory_bits=1 << 24))
    run = emulator_engine.run(compile_network(net, big, passes=HW).image, 2)

    def wrap32(x):
        return ((x + 2 ** 31) % 2 ** 32) - 2 ** 31
    a = wrap32(n_in * w)                                             # the int32 port wraps
    assert n_in * w > 2 ** 31 - 1 and a < 0
    d = wrap32(0 + wrap32(a << 6))                                   # u decays to 0 (du = 4095), then + A << 6
    u = d - 2 ** 24 if d > 2 ** 23 else d + 2 ** 24 if d <= -(2 ** 23) else d
    assert run.u[:, 0].tolist() == [0, u]
    v = max(-(2 ** 23 - 1), min(2 ** 23 - 1, wrap32(0 + u)))
    spiked = v > 131071 << 6
    assert run.v[1, 0] == (0 if spiked else v)
    assert (run.spikes[:, 1] == 0).any() == spiked


@pytest.mark.parametrize("seed", [3, 11])
def test_both_refractory_paths_of_the_numba_update_match_the_oracle(seed):
    # prepare() sets Program.refractory only when some neuron has a period: the numba update then keeps the
    # refractory bookkeeping (else it skips ref_until altogether); both paths, on one and two threads, against
    # the scalar oracle (which always tracks the last spike)
    from emulator.program import prepare
    from tests.helpers.images import random_image
    from tests.oracles import loihi_core
    base = random_image(seed, max_size=12)
    inputs = dict(base.inputs, poisson_p=np.full(base.n_inputs, np.nan))   # the oracle replays explicit spikes
    base = dataclasses.replace(base, inputs=inputs)
    rng = np.random.default_rng(seed)
    periods = {"none": np.zeros(base.n_neurons, np.int64), "some": rng.integers(0, 4, base.n_neurons)}
    for name, period in periods.items():
        img = dataclasses.replace(base, neurons=dict(base.neurons, refractory=period.astype(np.uint8)))
        assert prepare(img).refractory == bool(period.any()), name
        ref = loihi_core.run(img, 40)
        for threads in (1, 2):
            run = emulate(img, 40, threads=threads, probe=np.arange(img.n_neurons))
            assert np.array_equal(run.spikes, ref.spikes), (name, threads)
            assert np.array_equal(run.u, ref.u) and np.array_equal(run.v, ref.v), (name, threads)


def test_state_holds_u_v_in_int32_when_the_initial_values_fit():
    # State.initial's u, v are copies of _narrow(u_init), _narrow(v_init)
    from emulator.program import _narrow
    assert _narrow(np.array([-2 ** 31, 2 ** 31 - 1])).dtype == np.int32
    wide = _narrow(np.array([0, 2 ** 31]))
    assert wide.dtype == np.int64 and wide.tolist() == [0, 2 ** 31]
