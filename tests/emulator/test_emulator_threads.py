"""Threaded delivery (``emulate(..., threads=T)``): the same integers as one thread and as the numpy engine
(spikes in the same order, u/v traces, final state, core and link counters), for any T, every run."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

import emulator
from emulator import emulate
from emulator.program import flatten, prepare, run_posts, split_runs
from emulator.threads import ThreadChooser
from neuromap.compiler import compile_network
from neuromap.errors import ImageError
from neuromap.network import Network
from neuromap.targets import load_target
from tests.helpers.strategies import loihi_networks

FIELDS = ("spikes", "u", "v", "core_spikes", "link_spikes", "final_u", "final_v")


def _same(a, b):
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f


def nets():
    """Several populations (odd sizes, refractory), Poisson inputs, delays up to 12, negative and positive
    weight exponents (dendrite slots), several cores (max 16 neurons per core)."""
    return loihi_networks(size=(1, 41), vth=(0, 300), bias_mant=(-100, 400), bias_exp=(0, 4), refractory=(0, 3),
                          poisson=(1, 9), weight=(-255, 255), max_delay=(1, 12), weight_exp=(-4, 3))


def _image(net):
    """Compiled for Loihi cores of 16 neurons and 400 input axons (several cores per population)."""
    t = load_target("loihi")
    tgt = dataclasses.replace(t, core=dataclasses.replace(t.core, max_neurons=16, max_input_axons=400))
    return compile_network(net, tgt, passes=["check_hw_units", "partition", "lower"])


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(nets(), st.integers(2, 5))
def test_threads_equal_one_thread_and_numpy(net, T):
    img = _image(net)
    pr = np.arange(img.n_neurons)
    ref = emulate(img, 50, "numpy", probe=pr)
    one = emulate(img, 50, "numba", probe=pr, threads=1)
    many = emulate(img, 50, "numba", probe=pr, threads=T)
    _same(ref, one)
    _same(ref, many)


def _net(seed=4, exp=-2):
    """Poisson input, refractory, delays, recurrence; ``exp < 0`` gives dendrite slots (the post-range split),
    else the program has none (the spike split with per-thread ring copies)."""
    net = Network(seed=seed)
    net.add_population("a", 23, neuron="loihi_lif", du=300, dv=200, vth=40, bias_mant=35, refractory=2)
    net.add_population("b", 9, neuron="loihi_lif", du=100, dv=50, vth=30)
    net.add_population("x", 5, neuron="poisson", rate=300.0)
    net.connect("x", "a", weight={"uniform_int": [0, 255]}, delay={"uniform_int": [1, 6]})
    net.connect("a", "b", connect={"rule": "fixed_probability", "p": 0.5}, weight={"uniform_int": [-100, 255]},
                weight_exp=exp, delay={"uniform_int": [1, 3]})
    net.connect("b", "a", connect={"rule": "fixed_probability", "p": 0.5}, weight={"uniform_int": [-255, 50]})
    return _image(net)


@pytest.mark.parametrize("exp", [-2, 1])
def test_more_threads_than_neurons_chunks_and_repeats(monkeypatch, exp):
    img = _net(exp=exp)
    assert (prepare(img).slot_post.size > 0) == (exp < 0)
    pr = np.arange(img.n_neurons)
    ref = emulate(img, 120, "numpy", probe=pr)
    assert ref.spikes.shape[0] > 200
    p = split_runs(flatten(prepare(img)), 50)               # 32 neurons, 50 ranges: most are empty
    assert p.post_bounds[0] == 0 and p.post_bounds[-1] == img.n_neurons and np.all(np.diff(p.post_bounds) >= 0)
    for T in (2, 3, 50):
        _same(ref, emulate(img, 120, probe=pr, threads=T))
    monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 5 * 37)  # 5 steps per chunk: spikes pending at chunk ends
    runs = [emulate(img, 120, probe=pr, threads=2) for _ in range(3)]
    for r in runs:
        _same(ref, r)


def test_split_is_per_post_range_and_image_order_is_harmless():
    img = _net(seed=9)
    p = prepare(img)
    rng = np.random.default_rng(0)
    perm = np.concatenate([lo + rng.permutation(hi - lo) for lo, hi in zip(p.syn_ptr[:-1], p.syn_ptr[1:])])
    shuffled = type(p)(**{**vars(p), **{k: getattr(p, k)[perm] for k in ("syn_post", "syn_delay", "syn_add")},
                          "syn_slot": p.syn_slot[perm] if p.syn_slot.size else p.syn_slot})
    s = split_runs(flatten(shuffled), 3)
    assert np.array_equal(s.run_packed, flatten(p).run_packed)      # runs are sorted by post
    post = run_posts(s)
    for j in range(s.run_syn.size - 1):
        for k in range(3):
            q = post[s.run_split[j, k]:s.run_split[j, k + 1]]
            assert np.all((q >= s.post_bounds[k]) & (q < s.post_bounds[k + 1]))
    pr = np.arange(img.n_neurons)
    ref = emulate(img, 80, "numpy", probe=pr)
    _same(ref, emulate(shuffled, 80, probe=pr, threads=3))   # unsorted image order
    _same(ref, emulate(shuffled, 80, probe=pr, threads=1))
    _same(ref, emulate(shuffled, 80, "numpy", probe=pr))


def test_chooser_probes_alternately_then_holds_the_faster_and_probes_again():
    ch = ThreadChooser(2, probes=2, hold=3, margin=0.9)

    def chunks(m, cost):                                    # cost: seconds per step by thread count
        seen = []
        for _ in range(m):
            n = ch.next()
            seen.append(n)
            ch.record(n, 10, 10 * cost[n])
        return seen

    assert chunks(12, {1: 1.0, 2: 0.5}) == [1, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2]   # two threads faster
    # the machine gets loaded: two threads now slower; the hold ends, the probe picks one thread
    assert chunks(9, {1: 1.0, 2: 1.5}) == [2, 2, 1, 2, 1, 2, 1, 1, 1]
    assert ch.choice == 1 and ch.history[-9:] == [2, 2, 1, 2, 1, 2, 1, 1, 1]


def test_chooser_needs_the_margin_and_one_thread_never_probes():
    ch = ThreadChooser(4, probes=1, hold=5, margin=0.9)
    ch.record(ch.next(), 1, 1.0)
    ch.record(ch.next(), 1, 0.95)                          # 5 % faster: not enough
    assert ch.choice == 1 and not ch.probing
    solo = ThreadChooser(1)
    for _ in range(40):
        assert solo.next() == 1
        solo.record(1, 5, 1.0)


@pytest.mark.parametrize("slow_many", [True, False])
def test_default_threads_follow_the_measurement(monkeypatch, slow_many):
    """threads=None on a program over the synapse threshold: chunks alternate 1 and T threads, then the
    faster side (by a fake clock: no timing) runs; the integers equal one thread's either way."""
    import emulator.threads as thr
    img = _net(exp=1)
    pr = np.arange(img.n_neurons)
    ref = emulate(img, 200, probe=pr, threads=1)
    monkeypatch.setattr(thr, "THREADS_MIN_SYNAPSES", 1)
    monkeypatch.setattr(thr, "fast_threading_layer", lambda: True)
    monkeypatch.setattr(emulator, "_CHUNK_BUDGET", 5 * (img.n_neurons + img.n_inputs))   # 40 chunks
    import numba
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 2)
    clock = [0.0]
    real = emulator._engine("numba")

    def timed(p, st, t0, n, *a):
        T = 1 if p.post_bounds is None else p.post_bounds.shape[0] - 1
        clock[0] += n * (1.0 if T == 1 else (2.0 if slow_many else 0.5))
        real(p, st, t0, n, *a)

    monkeypatch.setattr(emulator, "_engine", lambda name: timed)
    monkeypatch.setattr(emulator.time, "perf_counter", lambda: clock[0])
    run = emulate(img, 200, probe=pr)
    _same(ref, run)
    h = run.thread_chunks.tolist()
    assert h[:4] == [1, 2, 1, 2] and len(h) == 40
    assert set(h[4:4 + thr.HOLD]) == ({1} if slow_many else {2})


def test_idle_openmp_threads_wait_passively_unless_the_user_chose(monkeypatch):
    import emulator.threads as thr
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    thr.passive_wait()
    assert thr.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    thr.passive_wait()
    assert thr.os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_threads_option_validated_and_defaults_small_networks_to_one():
    img = _net()
    with pytest.raises(ImageError, match="threads"):
        emulate(img, 5, threads=0)
    assert emulator.default_threads(prepare(img)) == 1


def test_backend_run_passes_threads():
    from backends.emulator import run
    img = _net()
    a, b = run(img, 60, threads=1), run(img, 60, threads=3)
    assert all(np.array_equal(a.spikes[k], b.spikes[k]) for k in a.spikes) and a.spikes["a"].shape[0] > 10
    assert np.array_equal(a.link_spikes, b.link_spikes)
