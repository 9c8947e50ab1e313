"""Loihi learning engine (neuromap.learning_engines.loihi_step, arithmetic in loihi_numba): hand-computed cases
pinning each arithmetic detail, run on the engine and on the array reference of Lava's model
(tests/oracles/loihi_learning.py; the ``loihi_learning`` fixture), config validation / JSON, and engine ==
reference on random rules (no Lava needed; against Lava itself: test_learning_vs_lava.py).

Random numbers in the hand cases are drawn here from fresh numpy generators with Lava's seeds
(trace streams rng_seed..rng_seed+3, synaptic stream seed 2), so a wrong stream, seed or draw
index changes the expected integers.
"""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from neuromap.errors import NetworkFormatError
from neuromap.learning_engines.loihi_numba import _wrap32
from neuromap.learning_engines.loihi_step import (
    decompose_impulses,
    learning_step,
    make_state,
    truncate_csr,
    truncate_weights,
)
from neuromap.learning_rules import FACTOR_VARS, Factor, LearningConfig, Product
from tests.oracles.loihi_learning import learning_step as reference_step

ALWAYS = (Product("x0", 0, 0),)  # a do-nothing dw (mantissa 0)


def cfg_of(**kw):
    kw.setdefault("dw", ALWAYS)
    kw.setdefault("rng_seed", 3)
    return LearningConfig(**kw)


def run(cfg, w, pre, post, engine=learning_step, indptr=None, indices=None, tags=(None, None)):
    """Feed spike trains (steps x neurons); return per-step copies of (weights, x, y, tag_1, tag_2)."""
    pre, post = np.asarray(pre, bool), np.asarray(post, bool)
    n_pre, n_post = pre.shape[1], post.shape[1]
    s = make_state(cfg, n_pre, n_post, indptr=indptr, indices=indices, tag_1=tags[0], tag_2=tags[1])
    w = np.array(w, np.int32)
    out = []
    for t in range(1, len(pre) + 1):
        engine(cfg, s, w, pre[t - 1], post[t - 1], t)
        out.append((w.copy(), s.x.copy(), s.y.copy(), s.tag_1.copy(), s.tag_2.copy()))
    return out


def draws(seed, n, kind="float"):
    g = np.random.default_rng(seed)
    return g.random(n) if kind == "float" else g.integers(0, 128, size=n, dtype=int)


def test_impulse_decomposition_is_lavas_8bit_fraction():
    i, f = decompose_impulses([20.3, 20.5, 16, 2.5 / 256, 0.999])
    assert i.tolist() == [20, 20, 16, 0, 0]
    assert f.tolist() == [77, 128, 0, 2, 256]  # round half to even; 0.999*256 -> 256


@pytest.mark.parametrize("impulse, first", [(20.3, 20), (20.5, 21)])
def test_impulse_fraction_rounds_with_the_x_impulse_stream(loihi_learning, impulse, first):
    # x impulse stream = seed 4, draw 2 at t=1 is 112: 112 < 77 no, 112 < 128 yes
    assert draws(4, 3, "int")[2] == 112
    out = run(cfg_of(x1_impulse=impulse, x1_tau=4), [[0]], [[1]], [[0]], loihi_learning)
    assert out[0][1][0, 0] == first


def test_trace_decay_rounds_stochastically_with_the_x_decay_stream(loihi_learning):
    out = run(cfg_of(x1_impulse=100, x1_tau=4), [[0]] * 3, [[1], [0], [0]], [[0]] * 3, loihi_learning)
    r = draws(3, 7)                       # x decay stream: draw 2t at step t
    v2 = 100 * np.exp(-1 / 4)             # 77.88
    x2 = int(np.floor(v2)) + int(r[4] < v2 % 1)
    v3 = x2 * np.exp(-1 / 4)
    x3 = int(np.floor(v3)) + int(r[6] < v3 % 1)
    assert [o[1][0, 0] for o in out] == [100, x2, x3]
    assert x2 == 78 and x3 == 61           # r[4] = 0.094 < 0.88; 78 * 0.7788 = 60.75, r[6] = 0.48 < 0.75


def test_trace_saturates_at_127(loihi_learning):
    out = run(cfg_of(x1_impulse=100, x1_tau=1000), [[0]] * 2, [[1], [1]], [[0]] * 2, loihi_learning)
    assert [o[1][0, 0] for o in out] == [100, 127]


def test_second_spike_in_an_epoch_adds_its_impulse_at_once(loihi_learning):
    # t_epoch 2, spikes at t=1,2: at t=2 x1 += 20 + (0 < 128) = 21 (random 0 for pre, connection.py:725);
    # epoch end: 21 decays twice (tau 1e9: stays 21 with r=0.094) and the last spike adds 20 + (120 < 128)
    cfg = cfg_of(x1_impulse=20.5, x1_tau=1e9, t_epoch=2)
    assert draws(4, 5, "int")[4] == 120
    out = run(cfg, [[0]] * 2, [[1], [1]], [[0]] * 2, loihi_learning)
    assert [o[1][0, 0] for o in out] == [0, 42]  # traces change only at the epoch end


def test_tau_zero_keeps_a_trace_only_on_its_spike_step(loihi_learning):
    out = run(cfg_of(x1_impulse=50, x1_tau=0), [[0]] * 3, [[1], [0], [1]], [[0]] * 3, loihi_learning)
    assert [o[1][0, 0] for o in out] == [50, 0, 50]


def test_post_traces_and_y_stream(loihi_learning):
    # y1 impulse 10.5 -> (10, 128); y impulse stream seed 6, draw 2 at t=1
    r = draws(6, 3, "int")[2]
    cfg = cfg_of(y1_impulse=10.5, y1_tau=0, y3_impulse=3, y3_tau=0)
    out = run(cfg, [[0]], [[0]], [[1]], loihi_learning)
    assert out[0][2][:, 0].tolist() == [10 + int(r < 128), 0, 3]


def test_product_with_exact_scaling(loihi_learning):
    # dw = 2^-2 * x1 * y0: x1 = 100 at the post spike -> 100 << (−2+7) = 3200 = 25 * 128 -> w += 25
    cfg = cfg_of(dw=(Product("y0", 1, 5, (Factor("x1"),)),), x1_impulse=100, x1_tau=0)
    out = run(cfg, [[10]], [[1]], [[1]], loihi_learning)
    assert out[0][0][0, 0] == 35


def test_weight_change_rounds_stochastically_with_the_synaptic_stream(loihi_learning):
    # dw = 2^-7 * y0 * x1 with x1 = 100: w*128 + 100 -> w + (r_e < 100/128); epoch e uses draw e of seed 2
    r = draws(2, 4)
    assert r[1] < 0.78125 < r[2]
    cfg = cfg_of(dw=(Product("y0", 1, 0, (Factor("x1"),)),), x1_impulse=100, x1_tau=0)
    out = run(cfg, [[10]] * 3, [[1], [1], [0]], [[1], [1], [0]], loihi_learning)
    assert [o[0][0, 0] for o in out] == [11, 11, 11]


@pytest.mark.parametrize("mode, lo, hi", [("mixed", -256, 255), ("excitatory", 0, 255), ("inhibitory", -255, 0)])
def test_weight_saturation_by_sign_mode(loihi_learning, mode, lo, hi):
    up = cfg_of(dw=(Product("y0", 7, 15),), sign_mode=mode)      # +7 * 2^8 per epoch
    down = cfg_of(dw=(Product("y0", -8, 15),), sign_mode=mode)   # -8 * 2^8 per epoch
    w0 = [[0]]
    assert run(up, w0, [[0]] * 2, [[1]] * 2, loihi_learning)[-1][0][0, 0] == hi
    assert run(down, w0, [[0]] * 2, [[1]] * 2, loihi_learning)[-1][0][0, 0] == lo


def test_learning_only_at_epoch_ends_and_u_decimation(loihi_learning):
    # dw = 3 * u1: u = 1 when (t // t_epoch) % 2 == 0 -> +3 at t = 2, 4 (t_epoch 1)
    cfg = cfg_of(dw=(Product("u", 3, 7),), decimate_exponent=1)
    out = run(cfg, [[0]], [[0]] * 4, [[0]] * 4, loihi_learning)
    assert [o[0][0, 0] for o in out] == [0, 3, 3, 6]
    # t_epoch 4: u evaluated at t = 4, 8 -> (1 % 2, 2 % 2) -> +0 at t=4, +3 at t=8
    cfg = cfg_of(dw=(Product("u", 3, 7),), decimate_exponent=1, t_epoch=4)
    out = run(cfg, [[0]], [[0]] * 8, [[0]] * 8, loihi_learning)
    assert [o[0][0, 0] for o in out] == [0] * 7 + [3]


def test_dependency_selects_trace_sampling_time(loihi_learning):
    # t_epoch 3; pre spikes at within-epoch 1, post at 3. dw = 2^-7 * x0 * y1 + 2^-7 * y0 * x1:
    # x0 term samples y1 at t=1 (0, no post spike yet); y0 term samples x1 at t=3 (decayed twice)
    cfg = cfg_of(dw=(Product("x0", 1, 0, (Factor("y1"),)), Product("y0", 1, 0, (Factor("x1"),))),
                 x1_impulse=64, x1_tau=1e9, y1_impulse=64, y1_tau=1e9, t_epoch=3)
    out = run(cfg, [[0]], [[1], [0], [0]], [[0], [0], [1]], loihi_learning)
    # x1 at t=3: 64 (64 * (1 - 1e-9) rounds back up with r = 0.094 twice), dw = 64/128 -> rounding with r_1
    r1 = draws(2, 2)[1]
    assert out[-1][0][0, 0] == int(r1 < 0.5)
    assert out[-1][1][0, 0] == 64 and out[-1][2][0, 0] == 64


def lava_int32_product(values, mant, s_exp, widths):
    cur = 1
    for v, w in zip(values, widths):
        cur = int(_wrap32(cur * max(-(2 ** w), min(2 ** w - 1, v))))
    cur = int(_wrap32(cur * mant))
    cur >>= max(0, sum(widths) + 4 - 15)
    return max(-32769, min(32767, cur << s_exp))


def test_multiply_accumulate_wraps_in_int32(loihi_learning):
    # dw = 7 * y0 * (w + 200)^3 * y1: 455^3 * 127 * 7 overflows int32 as in Lava's np.int32 MAC
    f = Factor("w", 200)
    cfg = cfg_of(dw=(Product("y0", 7, 7, (f, f, f, Factor("y1"))),), y1_impulse=127, y1_tau=0)
    expect = lava_int32_product([455, 455, 455, 127], 7, 7, [9, 9, 9, 7])
    unwrapped = (455 ** 3 * 127 * 7 >> (34 + 4 - 15)) << 7
    assert expect != min(unwrapped, 32767)
    q, rem = divmod(254 * 128 + expect, 128)
    q += draws(2, 2)[1] < rem / 128
    out = run(cfg, [[254]], [[0]], [[1]], loihi_learning)
    assert out[0][0][0, 0] == max(-256, min(255, q))


def test_idle_synapses_saturate(loihi_learning):
    # no product active (no spikes) still saturates: w 300 -> 255; tag_1 -257 -> -256 unless r >= 127/128
    cfg = cfg_of(dw=(Product("x0", 1, 7),), dt=(Product("x0", 1, 7),))
    r1 = draws(2, 2)[1]
    s = make_state(cfg, 3, 1, tag_1=[[0, -257, -256]])
    w = np.array([[300, -3, -3]], np.int32)
    loihi_learning(cfg, s, w, [0, 0, 0], [0], 1)
    assert w.tolist() == [[255, -3, -3]] and s.tag_1.tolist() == [[0, -257 + int(r1 < 127 / 128), -256]]


def test_tags_and_sgn_factor(loihi_learning):
    # dt = 2 * x0 * sgn(w - 100) ; dd = -3 * y0 (delay saturates at 0)
    cfg = cfg_of(dw=None, dt=(Product("x0", 2, 7, (Factor("w", -100, True),)),), dd=(Product("y0", -3, 7),))
    out = run(cfg, [[50, 150]], [[1, 1]] * 2, [[1]] * 2, loihi_learning)
    w, _, _, tag_1, tag_2 = out[-1]
    assert tag_1.tolist() == [[-4, 4]] and tag_2.tolist() == [[0, 0]] and w.tolist() == [[50, 150]]


def test_second_spike_in_an_epoch_saturates_the_trace_at_127(loihi_learning):
    # t_epoch 2, impulse 100, pre spikes at t1 and t2: the second spike adds its impulse at once (200 -> 127)
    # (tau huge: the epoch's decay keeps 127); an impulse of 100 plus a second one of 100 would be 200
    cfg = cfg_of(x1_impulse=100, x1_tau=1e9, t_epoch=2)
    s = make_state(cfg, 1, 1)
    w = np.zeros((1, 1), np.int32)
    loihi_learning(cfg, s, w, [1], [0], 1)
    loihi_learning(cfg, s, w, [1], [0], 2)
    assert s.x[0, 0] == 127


def test_saturated_accumulator_and_tag_1_floor_agree_with_the_reference():
    """dt = -8 * 2^8 * y0 drives tag_1 to its floor every epoch: the accumulator saturates at -32769, which
    rounds to -257 only when the synaptic draw is >= 127/128 (else -256); over 2000 epochs the reference
    reaches -257 and the engine gives the same tag every step."""
    cfg = cfg_of(dw=None, dt=(Product("y0", -8, 15),))
    a, b = make_state(cfg, 2, 1), make_state(cfg, 2, 1)
    wa, wb = np.zeros((1, 2), np.int32), np.zeros((1, 2), np.int32)
    lows = 0
    for t in range(1, 2001):
        learning_step(cfg, a, wa, [0, 0], [1], t)
        reference_step(cfg, b, wb, [0, 0], [1], t)
        assert a.tag_1.tolist() == b.tag_1.tolist(), t
        lows += int(b.tag_1[0, 0] == -257)
    assert lows >= 1 and b.tag_1.min() >= -257


def test_initial_truncation_like_lava():
    cfg = cfg_of(num_weight_bits=6)                           # mixed: drop 8 - 6 + 1 = 3 LSBs
    assert truncate_weights(cfg, np.array([13, -13, 7])).tolist() == [8, -16, 0]
    cfg = cfg_of(num_weight_bits=6, sign_mode="inhibitory")   # drop 2 LSBs of |w|
    assert truncate_weights(cfg, np.array([-13, -3])).tolist() == [-12, 0]
    indptr, indices, data = truncate_csr(cfg_of(), [0, 2, 3], [0, 1, 1], np.array([1, 6, -3]))
    assert indptr.tolist() == [0, 1, 2] and indices.tolist() == [1, 1] and data.tolist() == [6, -4]


def test_steps_must_be_consecutive():
    s = make_state(cfg_of(), 1, 1)
    with pytest.raises(ValueError):
        learning_step(cfg_of(), s, np.zeros((1, 1), np.int32), [0], [0], 2)


# ---- config validation and JSON -------------------------------------------------------------

def test_config_json_roundtrip_is_exact():
    cfg = cfg_of(dw=(Product("y0", -3, 4, (Factor("x1", 5), Factor("w", -2, True))),),
                 dd=(Product("u", 1, 7),), decimate_exponent=2, x1_impulse=20.3, x1_tau=0.1 + 0.2,
                 t_epoch=5, sign_mode="excitatory", num_weight_bits=6, rng_seed=11)
    back = LearningConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.x1_tau == 0.1 + 0.2


@pytest.mark.parametrize("change, field", [
    (dict(dw=(Product("x0", 9, 7),)), "dw[0].s_mantissa"),
    (dict(dw=(Product("x0", 1, 16),)), "dw[0].s_exp"),
    (dict(dw=(Product("z0", 1, 7),)), "dw[0].dependency"),
    (dict(dw=(Product("x0", 1, 7, (Factor("q1"),)),)), "dw[0].factors[0].var"),
    (dict(dw=(Product("x0", 1, 7, (Factor("x1", None, True),)),)), "dw[0].factors[0].sgn"),
    (dict(dw=None), "dw"),
    (dict(t_epoch=64), "t_epoch"),
    (dict(x1_tau=-1.0), "x1_tau"),
    (dict(y2_impulse=float("nan")), "y2_impulse"),
    (dict(sign_mode="both"), "sign_mode"),
    (dict(num_weight_bits=9), "num_weight_bits"),
    (dict(decimate_exponent=1), "decimate_exponent"),
    (dict(rng_seed=-1), "rng_seed"),
])
def test_config_errors_name_the_field(change, field):
    with pytest.raises(NetworkFormatError) as e:
        cfg_of(**change)
    assert str(e.value).startswith(field + ":") and "\n" not in str(e.value)


def test_from_dict_errors_are_located():
    d = cfg_of().to_dict()
    d["t_epoch"] = 0
    with pytest.raises(NetworkFormatError, match=r"^net.yaml: projections\[1\].learning.t_epoch: "):
        try:
            LearningConfig.from_dict(d)
        except NetworkFormatError as e:
            raise e.located(file="net.yaml", prefix="projections[1]") from e
    with pytest.raises(NetworkFormatError, match="learning: unknown key 'tau'"):
        LearningConfig.from_dict({**cfg_of().to_dict(), "tau": 3})


# ---- engine == reference on random rules (dense and CSR) -------------------------------------------

def factor_st():
    return st.builds(Factor, st.sampled_from(FACTOR_VARS[:-1]),
                     st.one_of(st.none(), st.integers(-300, 300)), st.just(False)) | \
        st.builds(Factor, st.sampled_from(["w", "d", "t"]), st.one_of(st.none(), st.integers(-50, 50)),
                  st.just(True))


def product_st(deps):
    return st.builds(Product, st.sampled_from(deps), st.integers(-8, 7), st.integers(0, 15),
                     st.lists(factor_st(), max_size=4).map(tuple))


@st.composite
def random_case(draw):
    use_u = draw(st.booleans())
    deps = ["x0", "y0", "u"] if use_u else ["x0", "y0"]
    series = {k: draw(st.one_of(st.none(), st.lists(product_st(deps), min_size=1, max_size=4).map(tuple)))
              for k in ("dw", "dd", "dt")}
    if all(v is None for v in series.values()):
        series["dw"] = (Product("y0", 1, 7, (Factor("x1"),)),)
    if not any(p.dependency == "u" for v in series.values() if v for p in v):
        use_u = False
    traces = {f"{n}_{k}": draw(st.floats(0, 40, allow_nan=False) if k == "impulse" else
                               st.one_of(st.just(0.0), st.floats(0.5, 50)))
              for n in ("x1", "x2", "y1", "y2", "y3") for k in ("impulse", "tau")}
    cfg = LearningConfig(**series, **traces, t_epoch=draw(st.integers(1, 4)), rng_seed=draw(st.integers(0, 99)),
                         decimate_exponent=draw(st.integers(0, 2)) if use_u else None,
                         sign_mode=draw(st.sampled_from(["mixed", "excitatory", "inhibitory"])))
    n_pre, n_post, T = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 25))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return cfg, n_pre, n_post, T, seed, draw(st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_case())
def test_engine_equals_reference(case):
    cfg, n_pre, n_post, T, seed, sparse = case
    rng = np.random.default_rng(seed)
    pre = rng.random((T, n_pre)) < 0.4
    post = rng.random((T, n_post)) < 0.4
    lo, hi = {"mixed": (-256, 256), "excitatory": (0, 256), "inhibitory": (-255, 1)}[cfg.sign_mode]
    wide = rng.random() < 0.3  # out-of-range initial values exercise the saturation of idle synapses
    w = rng.integers(lo - 40, hi + 40, (n_post, n_pre)) if wide else rng.integers(lo, hi, (n_post, n_pre))
    tags = tuple(rng.integers(-300, 300, (n_post, n_pre)) if wide else None for _ in range(2))
    kw = {"tags": tags}
    if sparse:
        mask = rng.random((n_post, n_pre)) < 0.6
        kw = dict(indptr=np.concatenate([[0], np.cumsum(mask.sum(1))]), indices=np.nonzero(mask)[1],
                  tags=tuple(None if v is None else v[mask] for v in tags))
        w = w[mask]
    a = run(cfg, w, pre, post, reference_step, **kw)
    b = run(cfg, w, pre, post, learning_step, **kw)
    for t, (ra, rb) in enumerate(zip(a, b)):
        for name, va, vb in zip(("weights", "x", "y", "tag_1", "tag_2"), ra, rb):
            assert np.array_equal(va, vb), (t + 1, name)
