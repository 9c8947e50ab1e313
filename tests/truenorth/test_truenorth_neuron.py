"""TrueNorth neuron (Cassidy et al. 2013): hand-computed vectors for every mode, the counter-based
generator, and numpy == numba == scalar reference on random parameters."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from emulator import tn_random as R
from emulator.truenorth import S_MAX, THRESH_MAX, V_MAX, V_MIN, make_core, run
from neuromap.errors import ImageError, NetworkFormatError
from neuromap.neurons import truenorth as tnmod
from neuromap.params import validate_params
from tests.helpers.engines import TN_ENGINES

BIG = THRESH_MAX  # a threshold that is never reached in these vectors


def one(s=(0, 0, 0, 0), n_axons=4, types=(0, 1, 2, 3), **kw):
    """One neuron, every axon connected, axon i of type types[i]."""
    kw.setdefault("alpha", BIG)
    kw.setdefault("beta", BIG)
    return make_core(np.ones((n_axons, 1), bool), np.asarray(types[:n_axons]), s=np.asarray(s)[None, :], **kw)


def drive(core, ticks, axons_per_tick, seed=0, engine="numpy"):
    inp = [(t, 0, a) for t, axs in enumerate(axons_per_tick) for a in axs]
    return run([core], ticks, np.array(inp, dtype=np.int64).reshape(-1, 3), seed=seed, engine=engine,
               record_v=True)


# ------------------------------------------------------------------ generator
def test_generator_first_absorb_is_splitmix64():
    # h = mix64((0 ^ 0) + GOLDEN) is SplitMix64's first output for state 0 (Steele et al. 2014)
    h = 0
    h = R._mix_py((h ^ 0) + R._GOLDEN)
    assert h == 0xE220A8397B1DCDAF


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 64 - 1), st.integers(0, 2 ** 20), st.integers(0, 255), st.integers(0, 2 ** 40),
       st.sampled_from([R.SYNAPSE, R.LEAK, R.THRESHOLD]), st.integers(0, 255))
def test_generator_three_implementations_agree(seed, core, neuron, tick, purpose, index):
    a = R.draw_py(seed, core, neuron, tick, purpose, index)
    assert int(R.draw_np(seed, core, neuron, tick, purpose, index)[0]) == a
    assert int(R.draw_nb(np.uint64(seed), core, neuron, tick, purpose, index)) == a


def test_generator_vectorized_equals_elementwise_and_is_uniform():
    neurons = np.arange(256)
    ticks = np.arange(64)[:, None]
    h = R.draw_np(5, 3, neurons, ticks, R.LEAK, 0)
    assert h.shape == (64, 256)
    for t, j in [(0, 0), (7, 200), (63, 255)]:
        assert int(h[t, j]) == R.draw_py(5, 3, j, t, R.LEAK, 0)
    counts = np.bincount(R.rho8(h).ravel().astype(np.int64), minlength=256)
    expected = h.size / 256
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 350  # 255 dof: mean 255, sd 22.6
    # different purposes / seeds give different streams
    assert not np.array_equal(h, R.draw_np(5, 3, neurons, ticks, R.THRESHOLD, 0))
    assert not np.array_equal(h, R.draw_np(6, 3, neurons, ticks, R.LEAK, 0))


# -------------------------------------------------------- hand-computed modes
def test_synaptic_integration_by_axon_type(tn_engine):
    core = one(s=(5, -3, 7, 0), n_axons=4)
    r = drive(core, 4, [[0, 2], [1], [0, 1, 2, 3], []], engine=tn_engine)
    assert r.v[0][:, 0].tolist() == [12, 9, 18, 18]


def test_only_connected_synapses_count(tn_engine):
    xb = np.array([[1, 0], [1, 1]], bool)
    core = make_core(xb, np.array([0, 1]), s=[[10, 1, 0, 0], [10, 1, 0, 0]], alpha=BIG, beta=BIG)
    r = drive(core, 1, [[0, 1]], engine=tn_engine)
    assert r.v[0][0].tolist() == [11, 1]


def test_v_saturates_at_20_bits(tn_engine):
    # V_MAX is above every threshold: gamma=2 (no reset) keeps V on the 20-bit ceiling, spiking
    up = one(s=(S_MAX, 0, 0, 0), n_axons=1, V0=V_MAX - 2, gamma=2)
    r = drive(up, 2, [[0], [0]], engine=tn_engine)
    assert r.v[0][:, 0].tolist() == [V_MAX, V_MAX] and r.spikes[0].all()
    # below -(beta+eta) with gamma=2 nothing resets, so V runs into the 20-bit floor
    down = one(s=(-S_MAX, 0, 0, 0), n_axons=1, V0=V_MIN + 3, gamma=2)
    assert drive(down, 2, [[0], [0]], engine=tn_engine).v[0][:, 0].tolist() == [V_MIN, V_MIN]


def test_leak_linear_and_reversal(tn_engine):
    lin = one(lam=-3, V0=10)
    assert drive(lin, 5, [[]] * 5, engine=tn_engine).v[0][:, 0].tolist() == [7, 4, 1, -2, -5]
    rev = make_core(np.ones((1, 3), bool), 0, s=0, lam=-3, epsilon=True, V0=[7, -7, 0], alpha=BIG, beta=BIG)
    v = drive(rev, 5, [[]] * 5, engine=tn_engine).v[0]
    # Omega = sgn(V): the leak pulls towards 0 and then oscillates around it; V = 0 does not leak
    assert v[:, 0].tolist() == [4, 1, -2, 1, -2]
    assert v[:, 1].tolist() == [-4, -1, 2, -1, 2]
    assert v[:, 2].tolist() == [0, 0, 0, 0, 0]
    # positive leak with reversal pushes away from 0
    div = one(lam=2, epsilon=True, V0=-1)
    assert drive(div, 3, [[]] * 3, engine=tn_engine).v[0][:, 0].tolist() == [-3, -5, -7]


def test_leak_is_applied_after_synaptic_input(tn_engine):
    # sgn(V) for reversal is taken after integration: V0=0, input +5, leak -2 reversed -> 3
    core = one(s=(5, 0, 0, 0), n_axons=1, lam=-2, epsilon=True)
    assert drive(core, 1, [[0]], engine=tn_engine).v[0][0, 0] == 3


def test_stochastic_leak_matches_draws(tn_engine):
    seed, T = 11, 300
    core = one(lam=-100, c_lambda=True, V0=0)
    v = drive(core, T, [[]] * T, seed=seed, engine=tn_engine).v[0][:, 0]
    rho = [R.draw_py(seed, 0, 0, t, R.LEAK, 0) >> 56 for t in range(T)]
    expected = -np.cumsum([1 if 100 >= r else 0 for r in rho])
    assert v.tolist() == expected.tolist()
    assert abs(-v[-1] / T - 101 / 256) < 0.1


def test_stochastic_synapse_matches_draws(tn_engine):
    seed, T = 3, 300
    core = make_core(np.ones((2, 1), bool), np.array([0, 1]), s=[[-64, 7, 0, 0]], b=[[True, False, 0, 0]],
                     alpha=BIG, beta=BIG)
    v = drive(core, T, [[0, 1]] * T, seed=seed, engine=tn_engine).v[0][:, 0]
    step = [7 - (1 if 64 >= (R.draw_py(seed, 0, 0, t, R.SYNAPSE, 0) >> 56) else 0) for t in range(T)]
    assert v.tolist() == np.cumsum(step).tolist()
    assert abs((7 * T - v[-1]) / T - 65 / 256) < 0.1


def test_reset_modes_on_positive_threshold(tn_engine):
    xb = np.ones((1, 3), bool)
    core = make_core(xb, 0, s=25, alpha=10, gamma=[0, 1, 2], R=3, beta=BIG)
    r = drive(core, 3, [[0]] * 3, engine=tn_engine)
    assert r.spikes[0].all()
    assert r.v[0][:, 0].tolist() == [3, 3, 3]        # gamma 0: V <- R
    assert r.v[0][:, 1].tolist() == [15, 30, 45]     # gamma 1: V <- V - alpha
    assert r.v[0][:, 2].tolist() == [25, 50, 75]     # gamma 2: no reset


def test_negative_threshold_modes(tn_engine):
    xb = np.ones((1, 4), bool)
    core = make_core(xb, 0, s=-8, alpha=BIG, beta=5, R=2, gamma=[0, 1, 2, 0], kappa=[0, 0, 0, 1])
    r = drive(core, 2, [[0], [0]], engine=tn_engine)
    assert not r.spikes[0].any()
    assert r.v[0][0].tolist() == [-2, -3, -8, -5]     # -R, V + beta, V, saturate at -beta
    assert r.v[0][1].tolist() == [-2, -6, -16, -5]
    # exactly at -beta nothing happens (strict inequality)
    edge = one(s=(-5, 0, 0, 0), n_axons=1, alpha=BIG, beta=5, R=2)
    assert drive(edge, 1, [[0]], engine=tn_engine).v[0][0, 0] == -5


def test_masked_random_threshold(tn_engine):
    seed, T = 9, 200
    core = one(s=(12, 0, 0, 0), n_axons=1, alpha=10, TM=3, gamma=1, beta=BIG)
    r = drive(core, T, [[0]] * T, seed=seed, engine=tn_engine)
    V, spikes, vs = 0, [], []
    for t in range(T):
        eta = (R.draw_py(seed, 0, 0, t, R.THRESHOLD, 0) >> 32) & 7
        V += 12
        spikes.append(V >= 10 + eta)
        if spikes[-1]:
            V -= 10 + eta
        vs.append(V)
    assert r.spikes[0][:, 0].tolist() == spikes
    assert r.v[0][:, 0].tolist() == vs
    # the mask widens the negative threshold too when kappa is off: V < -(beta + eta)
    neg = one(s=(-7, 0, 0, 0), n_axons=1, alpha=BIG, beta=4, TM=2, gamma=2, R=0)
    vn = drive(neg, 1, [[0]], seed=seed, engine=tn_engine).v[0][0, 0]
    assert vn == -7  # gamma 2 keeps V whichever eta was drawn


def test_zero_threshold_fires_every_tick(tn_engine):
    core = one(alpha=0, beta=0)
    assert drive(core, 4, [[]] * 4, engine=tn_engine).spikes[0][:, 0].all()


def test_routing_delay_and_fan_out_one(tn_engine):
    # core 0 neuron fires at tick 0 (alpha=0, gamma=0 R=-1 -> fires only when V>=0) and drives core 1 axon 2
    src = make_core(np.zeros((1, 1), bool), 0, alpha=0, R=-1, gamma=0, beta=BIG, lam=1,
                    dest_core=1, dest_axon=2, delay=3)
    dst = make_core(np.eye(3, dtype=bool), 0, s=1, alpha=1, beta=BIG)
    r = run([src, dst], 8, None, engine=tn_engine)
    # src: V0=0 -> +1 leak -> 1 >= 0 spike, V<- -1; -1+1=0 spike ... fires every tick
    assert r.spikes[0][:, 0].all()
    assert r.spikes[1][:, 2].tolist() == [False] * 3 + [True] * 5
    assert not r.spikes[1][:, :2].any()


def test_input_order_does_not_matter():
    core = make_core(np.ones((3, 2), bool), [0, 1, 2], s=[[40, -7, 3, 0], [1, 2, 3, 0]],
                     b=[[1, 1, 0, 0], [0, 1, 1, 0]], alpha=50, TM=4, gamma=1, c_lambda=True, lam=-30)
    inp = np.array([(t, 0, a) for t in range(20) for a in range(3) if (t + a) % 2])
    a = run([core], 20, inp, seed=1)
    b = run([core], 20, inp[::-1].copy(), seed=1)
    assert np.array_equal(a.spikes[0], b.spikes[0])


# ------------------------------------------------------ random equivalence
@st.composite
def cores(draw):
    A = draw(st.integers(1, 12))
    N = draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2 ** 32))
    rng = np.random.default_rng(seed)
    big = draw(st.booleans())  # push V into the 20-bit rails
    v0 = rng.integers(V_MIN, V_MAX + 1, N) if big else rng.integers(-400, 400, N)
    thr = THRESH_MAX if big else 600
    core = make_core(rng.random((A, N)) < 0.6, rng.integers(0, 4, A),
                     s=rng.integers(-S_MAX, S_MAX + 1, (N, 4)), b=rng.random((N, 4)) < 0.4,
                     lam=rng.integers(-S_MAX, S_MAX + 1, N), c_lambda=rng.random(N) < .5,
                     epsilon=rng.random(N) < .5, alpha=rng.integers(0, thr + 1, N),
                     beta=rng.integers(0, thr + 1, N), TM=rng.integers(0, 18, N), gamma=rng.integers(0, 3, N),
                     kappa=rng.random(N) < .5, R=rng.integers(-2 ** 17, 2 ** 17, N), V0=v0,
                     dest_core=rng.integers(-1, 1, N), dest_axon=rng.integers(0, A, N),
                     delay=rng.integers(1, 16, N))
    T = draw(st.integers(1, 12))
    inp = np.stack([rng.integers(0, T, 3 * T), np.zeros(3 * T, int), rng.integers(0, A, 3 * T)], 1)
    return core, T, inp, seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cores())
def test_numpy_numba_reference_identical(case):
    core, T, inp, seed = case
    out = [run([core], T, inp, seed=seed, engine=e, record_v=True) for e in TN_ENGINES]
    for o in out[1:]:
        assert np.array_equal(o.spikes[0], out[0].spikes[0])
        assert np.array_equal(o.v[0], out[0].v[0])
    assert out[0].v[0].min() >= V_MIN and out[0].v[0].max() <= V_MAX


# -------------------------------------------------------------- validation
def test_core_fields_out_of_range_are_rejected():
    with pytest.raises(ImageError, match="field s"):
        make_core(np.ones((1, 1), bool), 0, s=256)
    with pytest.raises(ImageError, match="field delay"):
        make_core(np.ones((1, 1), bool), 0, delay=16)
    with pytest.raises(ImageError, match="field axon_type"):
        make_core(np.ones((1, 1), bool), 4)
    with pytest.raises(ImageError, match="exceeds"):
        make_core(np.ones((257, 1), bool), 0)
    with pytest.raises(ImageError, match="engine"):
        run([one()], 1, engine="gpu")


def test_params_schema_uses_paper_names_and_widths():
    p = validate_params(tnmod.PARAMS, {"alpha": 100, "TM": 4, "gamma": 1}, "populations.x.neuron", size=3)
    f = tnmod.core_fields(p, 3)
    core = make_core(np.ones((1, 3), bool), 0, **f)
    assert core.alpha.tolist() == [100] * 3 and core.TM.tolist() == [4] * 3
    with pytest.raises(NetworkFormatError, match="alpha"):
        validate_params(tnmod.PARAMS, {"alpha": 2 ** 18}, "populations.x.neuron")
    with pytest.raises(NetworkFormatError, match="gamma"):
        validate_params(tnmod.PARAMS, {"gamma": 3}, "populations.x.neuron")
