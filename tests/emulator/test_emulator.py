"""Hand-computed cases of the loihi_lif core (each pins one arithmetic detail of Lava's fixed_pt models) on
every engine (the ``engine`` fixture: numpy, numba and the Lava backend), numpy == numba on random networks,
Poisson replay, and the backend's results file."""
import numpy as np
from hypothesis import HealthCheck, given, settings

from backends.emulator import load_results, run
from emulator import emulate
from neuromap.network import Network
from neuromap.toolchain import compile_network
from tests.helpers.strategies import loihi_networks
from tests.oracles import loihi_core


def one(engine, steps=6, inp_times=(), weights=(), exp=0, nwb=8, mode=None, delay=1, **lif):
    """One loihi_lif neuron fed by len(weights) spike-source inputs (all spiking at inp_times), run on
    ``engine``: (u, v, spikes) of the neuron per step. Every step (spikes of neuron and inputs, u, v) must
    also equal the scalar core oracle's (tests/oracles/loihi_core.py)."""
    net = Network()
    net.add_population("n", 1, neuron="loihi_lif", **lif)
    if weights:
        net.add_population("i", len(weights), neuron="spike_source", times=[list(inp_times)] * len(weights))
        net.connect("i", "n", connect={"rule": "matrix", "matrix": np.array([list(weights)])}, weight_exp=exp,
                    num_weight_bits=nwb, sign_mode=mode, delay=delay)
    img = compile_network(net).image
    out, ref = engine.run(img, steps), loihi_core.run(img, steps)
    assert np.array_equal(out.spikes, ref.spikes) and np.array_equal(out.u, ref.u) and np.array_equal(out.v, ref.v)
    spk = np.zeros(steps, int)
    spk[out.spike_steps(0)] = 1
    return out.u[:, 0].tolist(), out.v[:, 0].tolist(), spk.tolist()


def test_current_decay_rounds_toward_zero(engine):
    # du = 0 still decays: factor 4096 - (0 + 1) = 4095 (Lava ds_offset = 1)
    u, _, _ = one(engine, steps=2, u=1000, vth=131071)
    assert u == [1000 * 4095 >> 12, (999 * 4095) >> 12] == [999, 998]
    u, _, _ = one(engine, steps=1, u=-1000, vth=131071)
    assert u == [-999]  # toward zero, not floor (-1000)
    u, _, _ = one(engine, steps=1, u=5000, du=4095, vth=131071)
    assert u == [0]     # du = 4095: factor 0


def test_voltage_decay_bias_and_threshold(engine):
    # dv = 2048 halves v (dm_offset = 0); bias 3 << 2 = 12 per step; vth 1 -> effective 64, strict '>'
    _, v, s = one(engine, steps=4, v=100, dv=2048, bias_mant=3, bias_exp=2, vth=131071)
    assert v == [50 + 12, 31 + 12, 21 + 12, 16 + 12]
    _, v, s = one(engine, steps=7, bias_mant=16, bias_exp=0, vth=1)
    assert v == [16, 32, 48, 64, 0, 16, 32] and s == [0, 0, 0, 0, 1, 0, 0]  # 64 is not > 64; 80 spikes


def test_input_arrives_next_step_shifted_by_6(engine):
    u, v, _ = one(engine, steps=4, inp_times=[0], weights=[5], du=4095, vth=131071)
    assert u == [0, 5 << 6, 0, 0] and v == [0, 320, 320, 320]


def test_delay_and_reset_keep_u(engine):
    u, v, s = one(engine, steps=5, inp_times=[0], weights=[255], delay=3, du=4095, vth=100)
    assert u == [0, 0, 0, 255 << 6, 0] and s == [0, 0, 0, 1, 0] and v[3] == 0  # v = 16320 > 6400 -> reset
    u, v, s = one(engine, steps=3, inp_times=[0], weights=[255], du=0, vth=100)
    # u is not reset: step 2 has v = 0 + u = 16316 > 6400 and spikes again
    assert s == [0, 1, 1] and u[1] == 16320 and u[2] == (16320 * 4095) >> 12 == 16316 and v == [0, 0, 0]


def test_weight_exp_shifts_the_sum_with_floor(engine):
    # excitatory 8 bits, exp -1: the two weights sum first: (1 + 1) >> 1 = 1 (per synapse it would be 0)
    u, _, _ = one(engine, steps=2, inp_times=[0], weights=[1, 1], exp=-1, du=4095, vth=131071)
    assert u[1] == 1 << 6
    # mixed: -3 is stored as -4 (7 bits of magnitude, floor), -4 >> 1 = -2; -2 << 6 = -128
    u, _, _ = one(engine, steps=2, inp_times=[0], weights=[-3, 7], exp=-1, du=4095, vth=131071)
    assert u[1] == ((-4 + 6) >> 1) << 6
    u, _, _ = one(engine, steps=2, inp_times=[0], weights=[-3], exp=-1, mode="mixed", du=4095, vth=131071)
    assert u[1] == -2 << 6
    # exp 7 shifts left, num_weight_bits 3 keeps multiples of 32 (excitatory): 100 -> 96
    u, _, _ = one(engine, steps=2, inp_times=[0], weights=[100], exp=7, nwb=3, du=4095, vth=131071)
    assert u[1] == (96 << 7) << 6


def test_u_wraps_once_at_24_bits_and_v_saturates(engine):
    u0 = 2 ** 23 - 8
    u, v, _ = one(engine, steps=2, inp_times=[0], weights=[255], exp=0, u=u0, vth=131071, dv=4095)
    assert u[0] == u0 * 4095 >> 12 == 8386552
    d = (8386552 * 4095 >> 12) + (255 << 6)       # 8384504 + 16320 = 8400824 > 2**23
    assert d > 2 ** 23 and u[1] == d - 2 ** 24 == -8376392
    # v clips at +-(2**23 - 1)
    _, v, _ = one(engine, steps=2, v=-(2 ** 23 - 1), bias_mant=-4096, bias_exp=7, vth=131071)
    assert v == [-(2 ** 23 - 1)] * 2
    _, v, s = one(engine, steps=1, v=2 ** 23 - 1, bias_mant=4095, bias_exp=7, vth=131071)
    assert s == [1] and v == [0]  # saturated 8388607 > 131071 << 6 = 8388544


def nets():
    """Random networks with Poisson inputs, every num_weight_bits 1..8, weight exponents -8..7."""
    return loihi_networks(num_weight_bits=(1, 8))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets())
def test_numpy_and_numba_engines_agree(net):
    img = compile_network(net, passes=["check_hw_units", "partition", "lower"]).image  # keep >8-bit weights: clipped
    a = emulate(img, 60, "numpy", probe=np.arange(img.n_neurons))
    b = emulate(img, 60, "numba", probe=np.arange(img.n_neurons))
    for f in ("spikes", "u", "v", "core_spikes", "link_spikes"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def test_poisson_inputs_follow_the_documented_generator():
    net = Network(seed=11)
    net.add_population("x", 5, neuron="poisson", rate=[0.0, 100.0, 250.0, 500.0, 1000.0])
    net.add_population("n", 1, neuron="loihi_lif")
    net.connect("x", "n", weight=1)
    img = compile_network(net).image
    res = run(img, 200)
    from tests.oracles.poisson import documented_stream
    expected = np.argwhere(documented_stream([0.0, 0.1, 0.25, 0.5, 1.0], 11, 200, img.poisson_stream))
    assert np.array_equal(res.spikes["x"], expected)
    assert np.array_equal(run(img, 200, engine="numpy").spikes["x"], expected)


def test_chunks_do_not_change_results(monkeypatch):
    import emulator
    net = Network(seed=2)
    net.add_population("x", 4, neuron="poisson", rate=300.0)
    net.add_population("n", 20, neuron="loihi_lif", du=100, dv=100, vth=30)
    net.connect("x", "n", weight={"uniform_int": [0, 255]}, delay={"uniform_int": [1, 9]})
    net.connect("n", "n", connect={"rule": "fixed_probability", "p": 0.3}, weight={"uniform_int": [-255, 100]})
    img = compile_network(net).image
    whole = emulate(img, 100)
    monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 7 * 24)  # 7 steps per chunk
    part = emulate(img, 100)
    assert np.array_equal(whole.spikes, part.spikes) and whole.spikes.shape[0] > 100


def test_inputs_drawn_ahead_on_a_thread_are_the_same_stream(monkeypatch):
    """emulator.inputs.PrefetchedInputs: Poisson inputs (p <= 1 and p > 1: several events per step) and explicit
    spikes drawn a block ahead on a second thread, read back by chunks that cut and span blocks (the thread
    chooser's pairs), give the same run as drawing each chunk in place."""
    import emulator
    from emulator.inputs import InputSchedule, PrefetchedInputs
    from emulator.program import prepare
    net = Network(seed=4)
    net.add_population("x", 5, neuron="poisson", rate=300.0)
    net.add_population("y", 3, neuron="poisson", rate=25000.0)              # 2.5 events per step
    net.add_population("z", 2, neuron="spike_source", times=[[0, 3, 50, 51], [7, 90]])
    net.add_population("n", 20, neuron="loihi_lif", du=100, dv=100, vth=30)
    for src in ("x", "y", "z"):
        net.connect(src, "n", weight={"uniform_int": [0, 255]}, delay={"uniform_int": [1, 9]})
    img = compile_network(net).image
    p = prepare(img)
    flat = InputSchedule(p).chunk(0, 100)
    pre = PrefetchedInputs(InputSchedule(p), 9, 100)
    ptrs, ids, t0 = [np.zeros(1, np.int64)], [], 0
    for n in (4, 13, 1, 9, 9, 30, 34):                                       # cuts and spans blocks of 9
        ptr, i = pre.chunk(t0, n)
        ptrs.append(ptr[1:] + sum(x.size for x in ids))
        ids.append(i)
        t0 += n
    pre.close()
    assert np.array_equal(np.concatenate(ptrs), flat[0]) and np.array_equal(np.concatenate(ids), flat[1])
    assert flat[1].size > 300
    monkeypatch.setattr(emulator, "PREFETCH", False)
    ref = emulate(img, 100, threads=1)
    monkeypatch.setattr(emulator, "PREFETCH", True)
    monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 7 * 30)                # 7 steps per chunk
    monkeypatch.setattr(emulator, "free_cores", lambda: 2)
    for th in (1, None):
        run = emulate(img, 100, threads=th)
        assert np.array_equal(run.spikes, ref.spikes) and np.array_equal(run.final_v, ref.final_v)


def test_spike_array_grows_past_its_reservation(monkeypatch):
    import emulator
    net = Network(seed=3)
    net.add_population("x", 6, neuron="poisson", rate=400.0)
    net.add_population("n", 30, neuron="loihi_lif", du=50, dv=50, vth=20, bias_mant=100)
    net.connect("x", "n", weight={"uniform_int": [0, 255]}, delay={"uniform_int": [1, 4]})
    img = compile_network(net).image
    whole = {eng: emulate(img, 80, eng) for eng in ("numba", "numpy")}
    monkeypatch.setattr(emulator, "_RESERVE_ROWS", 5)        # far fewer rows than the run spikes
    monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 3 * 36)   # 3 steps per chunk: many grows
    for eng, ref in whole.items():
        part = emulate(img, 80, eng)
        assert part.spikes.shape == ref.spikes.shape and part.spikes.shape[0] > 500
        assert np.array_equal(part.spikes, ref.spikes) and part.spikes.flags.owndata


def test_branch_free_decay_rounds_toward_zero_like_lif():
    from emulator.engine_numba import _decay
    from tests.oracles.fixed_point import decay_toward_zero
    xs = [0, 1, -1, 4095, -4095, 4096, -4096, 4097, -4097, 2 ** 23 - 1, -(2 ** 23), 123457, -123457]
    for shift in (0, 1, 8, 12, 16):
        for f in (0, 1, 2048, 4095, 4096, (1 << shift) - 1):
            assert [_decay(x, f, shift) for x in xs] == [decay_toward_zero(x, f, shift) for x in xs]


def test_results_file(tmp_path):
    net = Network(seed=1)
    net.add_population("src", 2, neuron="spike_source", times=[[0, 3], [1]])
    net.add_population("a", 3, neuron="loihi_lif", du=4095, vth=1)
    net.connect("src", "a", weight=255)
    net.add_probe("a", ["spikes", "v"], neurons=[2])
    res = run(compile_network(net).image, 5)
    assert res.spikes["src"].tolist() == [[0, 0], [1, 1], [3, 0]]
    # every input spike reaches all 3 neurons one step later: 255 << 6 > 64 -> spike
    assert res.spikes["a"].tolist() == [[s, i] for s in (1, 2, 4) for i in range(3)]
    assert res.core_spikes.tolist() == [9] and res.link_spikes.tolist() == [[0], [3]]
    res.save(tmp_path / "r.npz")
    back = load_results(tmp_path / "r.npz")
    assert np.array_equal(back.spikes["a"], res.spikes["a"]) and back.v["a"].shape == (5, 1)
    assert back.neurons["a"].tolist() == [2] and back.meta["backend"] == "emulator"


def test_run_with_spikes_only_probes_records_spikes(tmp_path):
    """A float example whose probes ask for spikes only runs (no u/v columns are looked up)."""
    import os

    from backends.emulator import run
    from neuromap.io import load_network
    from neuromap.toolchain import compile_network
    net = load_network(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ramp_lif.yaml"))
    assert all(set(p.variables) == {"spikes"} for p in net.probes)
    res = run(compile_network(net, "loihi", placer="sequential").image, 300)
    assert set(res.spikes) >= set(net.populations)
    assert res.u == {} and res.v == {}
    assert sum(len(s) for s in res.spikes.values()) > 0
