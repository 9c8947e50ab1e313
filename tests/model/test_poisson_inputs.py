"""The documented Poisson input streams (neuromap/poisson_stream.py, emulator/inputs.py, docs/image-format.md
*Inputs*): geometric gaps for inputs of p <= 1 expected events per step, Poisson counts (several events per
step) for p > 1; one draw per event, independent of chunking; the uniforms from one ``default_rng(seed)``
(kind ``sequential``) or from each input's counter-based stream (``per_input_v2``, more in
test_poisson_per_input.py); replayed by the float reference, both emulator engines and the plastic loops."""
import math
import os
import sys

import numpy as np
import pytest

from emulator.inputs import PoissonStream
from neuromap.poisson_stream import KINDS, PER_INPUT, SEQUENTIAL
from tests.oracles.poisson import documented_stream, uniform


def _uniforms(kind: str, seed: int, n: int) -> list[float]:
    """The uniforms of input 0 (the only input of its stream) drawn at steps -1, 0, ..., n - 2 (per_input_v2:
    draw indices 0 .. n-1; sequential: its first n draws)."""
    if kind == SEQUENTIAL:
        return np.random.default_rng(seed).random(n).tolist()
    return [uniform(seed, 0, k) for k in range(n)]


def _raster(stream: PoissonStream, chunks) -> np.ndarray:
    """(steps, P) int events per step of ``stream`` read in ``chunks``; ids non-decreasing within a step."""
    rows, t0 = [], 0
    for n in chunks:
        ptr, j = stream.chunk(t0, n)
        r = np.zeros((n, stream.lq.size), np.int64)
        np.add.at(r, (np.repeat(np.arange(n), np.diff(ptr)), j), 1)
        assert np.all(np.diff(j)[np.diff(np.repeat(np.arange(n), np.diff(ptr))) == 0] >= 0)  # sorted per step
        rows.append(r)
        t0 += n
    return np.concatenate(rows)


@pytest.mark.parametrize("kind", KINDS)
def test_first_draws_by_hand(kind):
    """p = 0.5: u -> gap 1 + floor(log1p(-u) / log(1/2)); the first spike is at gap - 1."""
    seq = iter(_uniforms(SEQUENTIAL, 3, 3))
    spikes, t = [], -1                               # per_input_v2: the draw at step t has index t + 1
    for _ in range(3):
        u = next(seq) if kind == SEQUENTIAL else uniform(3, 0, t + 1)
        t += 1 + math.floor(math.log1p(-u) / math.log1p(-0.5))
        spikes.append(t)
    g = np.diff([-1] + spikes)
    r = _raster(PoissonStream(np.array([0.5]), 3, kind=kind), [spikes[-1] + 1])
    assert list(np.flatnonzero(r[:, 0])) == spikes
    assert sorted(set(g)) != [1]                            # the seed gives gaps other than 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scan", [False, True])
def test_stream_equals_the_documented_rule_and_ignores_chunking(scan, kind):
    """Heap (sparse inputs) and per-step scan (dense inputs) kernels give the documented stream."""
    p = np.array([0.0, 0.003, 0.05, 0.2, 0.5, 0.9, 1.0, 0.05])
    ref = documented_stream(p, 17, 3000, kind)
    assert np.array_equal(_raster(PoissonStream(p, 17, scan, kind=kind), [3000]), ref)
    assert np.array_equal(_raster(PoissonStream(p, 17, scan, kind=kind), [1, 7, 500, 1, 2491]), ref)
    assert not ref[:, 0].any() and np.all(ref[:, 6] == 1)     # p = 0 never, p = 1 once every step
    assert not np.array_equal(ref[:, 2], ref[:, 7])          # equal p, independent trains


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_probability_does_not_overflow(kind):
    r = _raster(PoissonStream(np.array([1e-300, 1e-12]), 1, kind=kind), [50])
    assert not r.any()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("p", [0.002, 0.02, 0.3])
def test_rate_and_isi_statistics_match_bernoulli(p, kind):
    """Over many inputs: spike probability per step p (binomial 5 sigma) and ISIs geometric (mean 1/p,
    CV sqrt(1 - p))."""
    n_in, steps = 200, 20000
    r = _raster(PoissonStream(np.full(n_in, p), 5, kind=kind), [steps])
    n = n_in * steps
    assert abs(r.sum() - n * p) < 5 * math.sqrt(n * p * (1 - p))
    isi = np.concatenate([np.diff(np.flatnonzero(r[:, j])) for j in range(n_in)])
    # ISIs seen inside the window: the span between an input's first and last spike over its count - 1, about
    # 1/p (1 - 1/(p steps)) (-2.5 % at p = 0.002; measured -2.6 % over 20 seeds of either kind)
    assert abs(isi.mean() * p - (1 - 1 / (p * steps))) < 0.03
    assert abs(isi.std() / isi.mean() - math.sqrt(1 - p)) < 0.03
    assert abs(np.mean(isi == 1) - p) < 5 * math.sqrt(p * (1 - p) / isi.size)   # P(gap = 1) = p


def test_emulator_runs_replay_the_stream_in_every_engine():
    """Static engines, the per-step plastic path and the fused plastic loop see the same inputs."""
    from emulator import emulate
    from neuromap import Network
    from neuromap.toolchain import compile_network
    net = Network(seed=4)
    net.add_population("x", 6, neuron="poisson", rate=[5.0, 50.0, 100.0, 200.0, 400.0, 0.0])
    net.add_population("n", 2, neuron="lif", tau_m=20.0, v_th=1.0)
    net.connect("x", "n", "all_to_all", weight=0.2, plasticity={"rule": "nn_stdp", "w_max": 0.5})
    img = compile_network(net, "loihi").image
    assert img.poisson_stream == PER_INPUT                   # what compile writes
    ref = documented_stream(img.inputs["poisson_p"], img.seed, 700, img.poisson_stream)
    N = img.n_neurons
    for eng in ("numba", "numpy"):
        sp = emulate(img, 700, eng).spikes
        r = np.zeros_like(ref)
        m = sp[:, 1] >= N
        np.add.at(r, (sp[m, 0], sp[m, 1] - N), 1)
        assert np.array_equal(r, ref), eng


# ---- several events per step (rate * dt / 1000 > 1): Poisson counts, as NEST's poisson_generator

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scan", [False, True])
def test_multi_event_stream_equals_the_documented_rule_and_ignores_chunking(scan, kind):
    p = np.array([0.5, 1.0, 1.0 + 1e-9, 2.0, 7.5, 0.0, 30.0, 0.05, 2.0])
    ref = documented_stream(p, 23, 1500, kind)
    assert np.array_equal(_raster(PoissonStream(p, 23, scan, kind=kind), [1500]), ref)
    assert np.array_equal(_raster(PoissonStream(p, 23, scan, kind=kind), [3, 1, 700, 796]), ref)
    assert np.all(ref[:, 1] == 1) and ref[:, 2].max() > 1        # p = 1 stays a regular train; above: counts
    assert ref[:, 6].max() > 30 and not np.array_equal(ref[:, 3], ref[:, 8])


@pytest.mark.parametrize("kind", KINDS)
def test_multi_event_counts_by_hand(kind):
    """p = 3: the count of a step is the first k with F(k) > u, F the Poisson(3) distribution function
    (scipy's, an independent implementation), one u per step; u = 0 gives 0 events."""
    from scipy.stats import poisson
    u = _uniforms(kind, 8, 40)
    r = _raster(PoissonStream(np.array([3.0]), 8, kind=kind), [40])
    assert r[:, 0].tolist() == [int(poisson.ppf(x, 3.0)) for x in u]
    assert len(set(r[:, 0].tolist())) > 3


def test_multi_event_inputs_refuse_absurd_rates():
    from neuromap.errors import NeuromapError
    with pytest.raises(NeuromapError, match="split it"):
        PoissonStream(np.array([0.5, 800.0]), 1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lam", [1.3, 2.0, 6.0])
def test_counts_per_step_are_poisson(lam, kind):
    """Count per step: mean and variance lam, P(0) = exp(-lam), no correlation between steps."""
    n_in, steps = 100, 4000
    r = _raster(PoissonStream(np.full(n_in, lam), 11, kind=kind), [steps]).astype(float)
    n = n_in * steps
    assert abs(r.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(r.var() / lam - 1) < 0.03
    p0 = math.exp(-lam)
    assert abs(np.mean(r == 0) - p0) < 5 * math.sqrt(p0 * (1 - p0) / n)
    x = r - r.mean()
    assert abs(np.mean(x[1:] * x[:-1]) / r.var()) < 0.02


def _multi_event_net(seed=5):
    from neuromap import Network
    net = Network(seed=seed, dt=0.1)
    net.add_population("x", 5, neuron="poisson", rate=[3000.0, 25000.0, 0.0, 80000.0, 10000.0])
    net.add_population("s", 2, neuron="spike_source", times=[[0.3, 0.3, 1.0], [2.0]])
    net.add_population("y", 3, neuron="poisson", rate=15000.0)
    net.add_population("n", 4, neuron="loihi_lif", du=0, dv=4095, vth=131071)
    net.connect("x", "n", "all_to_all", weight=3, delay=2)
    net.connect("y", "n", "all_to_all", weight=-5, delay=1)
    net.connect("s", "n", "all_to_all", weight=1, delay=1)
    return net


def _input_counts(spikes: np.ndarray, n_neurons: int, n_inputs: int, steps: int) -> np.ndarray:
    r = np.zeros((steps, n_inputs), np.int64)
    m = spikes[:, 1] >= n_neurons
    np.add.at(r, (spikes[m, 0], spikes[m, 1] - n_neurons), 1)
    return r


def test_emulator_engines_deliver_every_event_of_a_step():
    """u follows the scalar Loihi rule u_t = decay(u_{t-1}) + (a_in << 6) where a_in is weight x events: each
    of an input's events in a step adds its weight once (numba and numpy engines), and the spike output lists
    it once per event."""
    from emulator import emulate
    from neuromap.toolchain import compile_network
    img = compile_network(_multi_event_net(), "loihi").image
    steps, N = 250, img.n_neurons    # within the numpy engine's first 256-step chunk (issue 19: its boundary)
    pois = np.flatnonzero(~np.isnan(img.inputs["poisson_p"]))
    assert img.inputs["poisson_p"][pois].max() == pytest.approx(8.0)    # 80 kHz at 0.1 ms, not capped
    counts = np.zeros((steps, img.n_inputs), np.int64)
    counts[:, pois] = documented_stream(img.inputs["poisson_p"][pois], img.seed, steps, img.poisson_stream)
    st, si = img.inputs["spike_step"], img.inputs["spike_index"]
    np.add.at(counts, (st, si), 1)
    scale = {pm.name: 1 << (6 + pm.weight_exp) for pm in img.projections}   # Loihi: w << (6 + weight_exp)
    drive = np.zeros(steps, np.int64)
    for pop, w, d, proj in (("x", 3, 2, 0), ("y", -5, 1, 1), ("s", 1, 1, 2)):
        ids = np.arange(img.population(pop).start, img.population(pop).start + img.population(pop).size)
        per_step = counts[:, ids].sum(axis=1) * w * scale[img.projections[proj].name]
        drive[d:] += per_step[:steps - d]
    u, expect = 0, []
    for t in range(steps):                       # du = 0: decay factor 4095 / 4096, rounded toward zero
        x = u * 4095
        u = (x + (4095 if x < 0 else 0)) // 4096 + int(drive[t])
        expect.append(u)
    assert max(abs(x) for x in expect) < 1 << 23 and len(set(expect)) > 100
    for eng in ("numba", "numpy"):
        run = emulate(img, steps, eng, probe=np.arange(N))
        assert np.array_equal(_input_counts(run.spikes, N, img.n_inputs, steps), counts), eng
        assert run.u[:, 0].tolist() == expect, eng


def test_float_reference_replays_the_image_stream_event_for_event():
    """The float reference draws the network's Poisson populations as the image numbers them, so float and
    emulator see the same input events (several per step included); its input rates count every event."""
    from emulator import emulate
    from neuromap import simulate
    from neuromap.toolchain import compile_network
    net = _multi_event_net(9)
    img = compile_network(net, "loihi").image
    steps = 300
    emu = _input_counts(emulate(img, steps).spikes, img.n_neurons, img.n_inputs, steps)
    net_f = _multi_event_net(9)
    net_f.populations["n"] = type(net_f.populations["n"])("n", 4, {"model": "lif", "tau_m": 10.0})
    res = simulate(net_f, steps)
    for pop in ("x", "s", "y"):
        pm = img.population(pop)
        t, i = res.spikes[pop]
        got = np.zeros((steps, pm.size), np.int64)
        np.add.at(got, (t, i), 1)
        assert np.array_equal(got, emu[:, pm.start:pm.start + pm.size]), pop
        assert np.allclose(res.rates[pop], got.sum(axis=0) / (steps * 0.1e-3))
    assert res.spikes["x"][0].size > steps * 10                      # ~11.8 events per step on average


def test_simulator_backends_agree_with_multi_event_inputs():
    from neuromap import Network, simulate
    net = Network(seed=2, dt=0.1)
    net.add_population("x", 20, neuron="poisson", rate=35000.0)
    net.add_population("n", 30, neuron="lif", tau_m=10.0, tau_syn=2.0, v_th=5.0)
    net.connect("x", "n", {"rule": "fixed_indegree", "k": 3}, weight=0.2, delay={"uniform_int": [1, 4]})
    net.connect("n", "n", {"rule": "fixed_indegree", "k": 5}, weight=-0.3, delay=2)
    a, b = simulate(net, 600, backend="numpy"), simulate(net, 600, backend="numba")
    assert all(np.array_equal(x, y) for x, y in zip(a.spikes["n"], b.spikes["n"]))
    assert a.spikes["n"][0].size > 100


def test_compile_refuses_multi_event_inputs_where_a_consumer_cannot_take_them():
    from neuromap import Network
    from neuromap.errors import TargetError
    from neuromap.toolchain import compile_network
    net = Network(seed=1, dt=0.1)
    net.add_population("x", 4, neuron="poisson", rate=25000.0)
    net.add_population("n", 4, neuron="lif", tau_m=10.0)
    net.connect("x", "n", "one_to_one", weight=0.5, plasticity={"rule": "nn_stdp", "w_max": 1.0})
    with pytest.raises(TargetError, match="2.5 events per step.*split x into 3 populations"):
        compile_network(net, "loihi")


def test_brunel_above_one_event_per_step_matches_mean_field():
    """Brunel model A with J = 0.1 mV: the external drive is 20 kHz per neuron, 2 events per 0.1 ms step.
    Capped at one event per step (before) the network fired a regular 2.5 Hz; with Poisson counts it fires
    at the diffusion-approximation rate (74.3 Hz) within 5 % (measured 73.9 Hz (E), 74.3 Hz (I) over 200 ms)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    import brunel
    cfg = dict(ne=2000, ni=500, eps=0.1, j=0.1, g=5.0, eta=2.0, dt=0.1)
    theory = brunel.mean_field_rate(**cfg)
    got = brunel.run(cfg, 300.0)
    for pop in ("E", "I"):
        assert abs(got[pop]["rate"] / theory - 1) < 0.05, (pop, got[pop]["rate"], theory)


@pytest.mark.lava
@pytest.mark.parametrize("kind", KINDS)
def test_lava_takes_multi_event_inputs_as_graded_spikes(kind):
    """Lava (fixed_pt, num_message_bits on connections from multi-event inputs) spikes exactly like the
    emulator, u and v of every neuron included, with the image's Poisson stream of either kind (the input
    raster follows the image's ``poisson_stream``)."""
    import dataclasses

    from backends.lava.compat import lava_available
    if not lava_available():
        pytest.skip("lava-nc not installed")
    from neuromap import Network
    from neuromap.toolchain import compile_network
    from neuromap.validate import validate_image
    net = Network(seed=3, dt=0.1)
    net.add_population("x", 6, neuron="poisson", rate=[5000.0, 25000.0, 40000.0, 12000.0, 800.0, 60000.0])
    net.add_population("n", 5, neuron="lif", tau_m=5.0, tau_syn=1.0, v_th=4.0)
    net.connect("x", "n", {"rule": "fixed_indegree", "k": 3}, weight=0.4, delay={"uniform_int": [1, 3]})
    net.connect("n", "n", {"rule": "fixed_indegree", "k": 2}, weight=-0.5, delay=2)
    img = dataclasses.replace(compile_network(net, "loihi").image, poisson_stream=kind)
    assert "identical" in validate_image(img, 120, probe_all=True)


def test_exported_lava_script_replays_the_same_events(tmp_path):
    """The exported script's own ``input_spikes`` (pure Python, run here without Lava) gives the image
    stream's counts; its connections from multi-event inputs are graded (num_message_bits)."""
    import ast
    import heapq as hq

    from backends.lava.export import export_script
    from neuromap.toolchain import compile_network
    img = compile_network(_multi_event_net(4), "loihi").image
    script, npz = export_script(img, tmp_path / "net_lava.py", steps=10)
    text = script.read_text()
    fns = [n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name in ("input_spikes", "mix")]
    consts = [n for n in ast.parse(text).body if isinstance(n, ast.Assign)
              and getattr(n.targets[0], "id", None) in ("POISSON_STREAM", "M64")]
    env = {"np": np, "math": math, "heapq": hq, "A": dict(np.load(npz)), "N_INPUTS": img.n_inputs,
           "SEED": img.seed}
    exec(compile(ast.Module(consts + fns, []), "input_spikes", "exec"), env)
    assert env["POISSON_STREAM"] == img.poisson_stream == PER_INPUT
    steps = 200
    pois = np.flatnonzero(~np.isnan(img.inputs["poisson_p"]))
    for kind in KINDS:                          # the script follows the image's kind (an older image's too)
        env["POISSON_STREAM"] = kind
        expect = np.zeros((steps, img.n_inputs), np.int64)
        expect[:, pois] = documented_stream(img.inputs["poisson_p"][pois], img.seed, steps, kind)
        np.add.at(expect, (img.inputs["spike_step"], img.inputs["spike_index"]), 1)
        assert np.array_equal(env["input_spikes"](steps), expect), kind
    assert text.count("num_message_bits=8") == 2                       # x and y are multi-event; s is not


def test_truenorth_refuses_multi_event_inputs_with_the_fix():
    from neuromap import Network
    from neuromap.compiler.check import find_problems
    from neuromap.targets import load_target
    net = Network(seed=1, dt=1.0)
    net.add_population("x", 4, neuron="poisson", rate=[500.0, 1500.0, 2500.0, 100.0])
    net.add_population("n", 4, neuron="if", v_th=1.0)
    net.connect("x", "n", "one_to_one", weight=1.0)
    probs = [p for p in find_problems(net, load_target("truenorth")) if "rate" in p.item]
    assert len(probs) == 1 and probs[0].severity == "error"
    assert "2.5 events per step" in probs[0].reason and "split x into 3 populations" in probs[0].alternative
    net.populations["x"].neuron["rate"] = np.array([500.0, 900.0, 1000.0, 100.0])   # at most 1 per step: fine
    assert not [p for p in find_problems(net, load_target("truenorth")) if "rate" in p.item]
