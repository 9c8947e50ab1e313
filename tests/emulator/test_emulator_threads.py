"""Threaded delivery (``emulate(..., threads=T)``): the same integers as one thread and as the numpy engine
(spikes in the same order, u/v traces, final state, core and link counters), for any T, every run."""
import dataclasses
import os

import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st

import emulator
from emulator import emulate
from emulator.program import flatten, prepare, run_posts, split_runs
import emulator.threads as thr_module
from emulator.threads import LOSS_BUDGET, PROBES, WORST_RATIO, ThreadChooser
from neuromap.toolchain import compile_network
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
    return compile_network(net, tgt, passes=["check_hw_units", "partition", "lower"]).image


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


def FREE():
    """A quiet machine: every core free (the chooser's gate, emulator.threads.free_cores)."""
    return 64


def _drive(ch, steps, one_rate, ratio, prepare=0.0):
    """Run a :class:`ThreadChooser` over ``steps`` steps on a fake clock: a step at time ``t`` costs
    ``one_rate(t)`` seconds on one thread and ``ratio(t)`` times that on T threads; preparing the T program
    costs ``prepare`` seconds. Returns (default seconds, one-thread seconds of the same run, steps on T)."""
    t, total, many_steps = 0, 0.0, 0
    while t < steps:
        th, n = ch.next(steps - t)
        assert 1 <= n <= steps - t and n <= ch.chunk
        if th > 1 and ch.needs_program:
            ch.prepared(prepare)
            total += prepare
        sec = sum(one_rate(k) * (ratio(k) if th > 1 else 1.0) for k in range(t, t + n))
        ch.record(th, n, sec)
        total += sec
        many_steps += n if th > 1 else 0
        t += n
    return total, sum(one_rate(k) for k in range(steps)), many_steps


def test_chooser_holds_threads_that_win_and_gains():
    ch = ThreadChooser(2, 4000, 50, synapses=10_000_000, cores=FREE)
    total, one, on_many = _drive(ch, 4000, lambda t: 1e-3, lambda t: 0.5, prepare=0.02)
    assert ch.history[0] == 1 and on_many > 3000 and total < 0.6 * one


def test_chooser_losing_threads_cost_at_most_the_budget():
    """T threads 2.5x slower (a loaded machine): the try is sized within the budget and lost, later tries
    back off; the run loses at most LOSS_BUDGET of one thread's time (here: with the preparation)."""
    ch = ThreadChooser(2, 4000, 50, synapses=10_000_000, cores=FREE)
    total, one, on_many = _drive(ch, 4000, lambda t: 1e-3, lambda t: 2.5, prepare=0.05)
    assert on_many > 0 and ch.mode == "one"
    assert total - one <= LOSS_BUDGET * one + 1e-9
    assert ch.excess == pytest.approx(total - one)


def test_chooser_leaves_threads_when_the_load_comes_and_has_hysteresis():
    ch = ThreadChooser(2, 6000, 50, cores=FREE)
    total, one, _ = _drive(ch, 6000, lambda t: 1e-3, lambda t: 0.5 if t < 3000 else 2.0)
    assert ch.history[-1] == 1 and total < one             # the gain of the first half pays for the rest
    after = [th for th, end in zip(ch.history, np.cumsum(ch.lengths)) if end > 3000]
    assert after[:6].count(2) <= 4 and after[6:14] == [1] * 8    # two checks (median of 3 pairs), then one
    assert after.count(2) <= 4 + 2 * PROBES                  # two more tries in 3000 steps (backoff)
    # a ratio between ENTER and LEAVE: not entered from one thread, not left once on T threads
    ch = ThreadChooser(2, 4000, 50, cores=FREE)
    _drive(ch, 4000, lambda t: 1e-3, lambda t: 0.9)
    assert ch.mode == "one" and "2,2" not in ",".join(map(str, ch.history))    # probe halves only
    ch = ThreadChooser(2, 4000, 50, cores=FREE)
    _drive(ch, 4000, lambda t: 1e-3, lambda t: 0.5 if t < 1000 else 0.9)
    assert ch.mode == "many" and ch.history[-1] == 2


def test_chooser_short_runs_and_one_thread_never_try():
    ch = ThreadChooser(2, 40, 50, synapses=10_000_000, cores=FREE)      # the preparation alone would pass the budget
    _drive(ch, 40, lambda t: 1e-3, lambda t: 0.5)
    assert set(ch.history) == {1}
    solo = ThreadChooser(1, 1000, 50, cores=FREE)
    _drive(solo, 1000, lambda t: 1e-3, lambda t: 0.1)
    assert set(solo.history) == {1} and solo.lengths == [50] * 20


def test_chooser_tries_threads_only_with_free_cores():
    free = [1]
    ch = ThreadChooser(2, 4000, 50, cores=lambda: free[0])
    _drive(ch, 2000, lambda t: 1e-3, lambda t: 0.5)
    assert set(ch.history) == {1}                            # one core free: T = 2 never tried
    free[0] = 2
    _drive(ch, 2000, lambda t: 1e-3, lambda t: 0.5)
    assert ch.mode == "many"
    assert thr_module.free_cores() <= len(os.sched_getaffinity(0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.2, WORST_RATIO), st.integers(1, 3000)), min_size=1, max_size=5),
       st.floats(1e-4, 1e-2), st.integers(100, 8000), st.integers(1, 200), st.floats(0, 1))
def test_chooser_never_loses_more_than_the_budget(phases, rate, steps, chunk, prep_share):
    """Any T / one-thread ratio up to WORST_RATIO, changing any number of times during the run; the
    preparation costing up to its prediction: the default loses at most LOSS_BUDGET of one thread's time."""
    bounds = np.cumsum([n for _, n in phases])

    def ratio(t):
        return phases[min(int(np.searchsorted(bounds, t, side="right")), len(phases) - 1)][0]
    ch = ThreadChooser(2, steps, chunk, synapses=1_000_000, cores=FREE)
    total, one, _ = _drive(ch, steps, lambda t: rate, ratio, prepare=prep_share * ch.prepare_guess)
    assert total - one <= LOSS_BUDGET * one * (1 + 1e-9)


@pytest.mark.parametrize("slow_many", [True, False])
def test_default_threads_follow_the_measurement(monkeypatch, slow_many):
    """threads=None on a program over the synapse threshold: the first chunk on one thread, then tries of T
    threads within the loss budget (a fake clock: no timing); the integers equal one thread's either way."""
    import emulator.threads as thr
    img = _net(exp=1)
    pr = np.arange(img.n_neurons)
    ref = emulate(img, 200, probe=pr, threads=1)
    monkeypatch.setattr(thr, "THREADS_MIN_SYNAPSES", 1)
    monkeypatch.setattr(thr, "fast_threading_layer", lambda: True)
    monkeypatch.setattr(thr, "free_cores", FREE)
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
    splits = []
    monkeypatch.setattr(emulator, "split_runs", lambda p, T: splits.append(T) or split_runs(p, T))
    run = emulate(img, 200, probe=pr)
    _same(ref, run)
    h = run.thread_chunks.tolist()
    assert h[0] == 1 and 2 in h and splits == [2]             # one preparation, at the first try
    assert clock[0] <= (1 + thr.LOSS_BUDGET) * 200 if slow_many else clock[0] < 0.7 * 200


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
