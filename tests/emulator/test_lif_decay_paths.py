"""The LIF kernel's two decay paths (emulator.program.decay_factors, emulator.engine_numba._decay_any): the float32
factor ``f / 2**D`` of programs whose factors lie in [0, 2**D] and the int64 multiply of the others give Lava's
``sign(x f) (|x f| >> D)`` at the edges of their ranges: x over the int32 range, f at 0, 1, 2**D - 1 and 2**D,
every decay width 0..16 the emulator implements. Checked against the scalar oracle (tests/oracles), in plain
Python integers, element by element and through whole runs."""
from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emulator import emulate
from emulator.engine_numba import _decay_any
from emulator.program import decay_factors, prepare
from neuromap.image import LifArithmetic
from tests.helpers.images import random_image
from tests.oracles import loihi_core
from tests.oracles.fixed_point import decay_toward_zero

I32 = [-2 ** 31, -2 ** 31 + 1, -2 ** 30 - 7, -2 ** 23, -4097, -4096, -1, 0, 1, 4095, 2 ** 23 - 1, 2 ** 31 - 2,
       2 ** 31 - 1]


@numba.njit(cache=True)
def _decays(x, f, shift):
    out = np.empty((x.shape[0], f.shape[0]), np.int64)
    for i in range(x.shape[0]):
        for j in range(f.shape[0]):
            out[i, j] = _decay_any(x[i], f[j], shift)
    return out


def _edge_factors(bits: int) -> list[int]:
    unity = 1 << bits
    return sorted({0, 1, unity // 2, max(unity - 1, 0), unity})


@pytest.mark.parametrize("bits", range(17))
def test_float_decay_equals_integer_rounding_at_the_edges(bits):
    rng = np.random.default_rng(bits)
    x = np.array(I32 + rng.integers(-2 ** 31, 2 ** 31, 40).tolist(), np.int64)
    f = np.array(_edge_factors(bits) + rng.integers(0, (1 << bits) + 1, 8).tolist(), np.int64)
    got = decay_factors(f, f, bits)
    assert got["decay_u"].dtype == np.float32                  # every factor in [0, 2**D]: the float path
    res = _decays(x, got["decay_u"], bits)
    want = [[decay_toward_zero(int(a), int(b), bits) for b in f] for a in x]
    assert res.tolist() == want


@pytest.mark.parametrize("bits", [0, 1, 12, 16])
def test_factors_outside_unity_keep_the_integer_multiply(bits):
    unity = 1 << bits
    for bad in (unity + 1, -1, 65535 + unity):
        f = np.array([0, unity, bad], np.int64)
        got = decay_factors(f, np.zeros(1, np.int64), bits)
        assert got["decay_u"].dtype == np.int64 and got["decay_v"].dtype == np.int64
        x = np.array(I32, np.int64)
        res = _decays(x, got["decay_u"], bits)
        assert res.tolist() == [[decay_toward_zero(int(a), int(b), bits) for b in f] for a in x]


def _edge_image(seed: int, ar: LifArithmetic, du_over: int = 0):
    """``random_image(seed)`` with the arithmetic ``ar``, du/dv at the edges of its decay width (``du_over``
    > 0 puts du beyond 2**D - 1 on some neurons: a factor below 0, the int64 path) and u/v starting at the
    int32 edges."""
    img = random_image(seed, max_size=6)
    rng = np.random.default_rng(seed)
    N = img.n_neurons
    top = ar.decay_max
    edge = np.array([0, 1, top // 2, max(top - 1, 0), top])
    nu = dict(img.neurons)
    nu["du"] = rng.choice(edge, N).astype(np.uint16)
    nu["dv"] = rng.choice(edge, N).astype(np.uint16)
    if du_over:
        nu["du"][::2] = min(top + du_over, 65535)
    big = np.array([-2 ** 31, -2 ** 31 + 1, 2 ** 31 - 1, -(ar.u_half), ar.u_half, 0, 5])
    nu["u_init"] = rng.choice(big, N).astype(np.int32)
    nu["v_init"] = rng.choice(big, N).astype(np.int32)
    nu["vth"] = np.minimum(nu["vth"].astype(np.int64), ar.vth_max).astype(np.int32)
    nu["bias_mant"] = np.clip(nu["bias_mant"], ar.bias_mant_min, ar.bias_mant_max).astype(np.int16)
    nu["bias_exp"] = np.minimum(nu["bias_exp"], ar.bias_exp_max).astype(np.int8)
    inputs = dict(img.inputs)
    inputs["poisson_p"] = np.full(img.n_inputs, np.nan)          # the oracle replays explicit spikes only
    return dataclasses.replace(img, neurons=nu, arithmetic=ar, inputs=inputs)


ARITH = st.builds(
    LifArithmetic, voltage_bits=st.integers(2, 31), current_bits=st.integers(2, 31), decay_bits=st.integers(0, 16),
    threshold_bits=st.integers(1, 17), threshold_shift=st.integers(0, 14), activation_shift=st.integers(0, 31),
    bias_mantissa_bits=st.integers(0, 13), bias_exponent_bits=st.integers(0, 3))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), ar=ARITH, over=st.sampled_from([0, 0, 1, 7000]))
def test_runs_at_the_range_edges_match_the_oracle(seed, ar, over):
    img = _edge_image(seed, ar, over)
    p = prepare(img)
    assert (p.decay_u.dtype == np.float32) == bool(np.all(img.neurons["du"] <= ar.decay_max))
    steps = 12
    ref = loihi_core.run(img, steps)
    for engine in ("numba", "numpy"):
        run = emulate(img, steps, engine=engine, threads=1, probe=np.arange(img.n_neurons))
        assert np.array_equal(run.spikes, ref.spikes), engine
        assert np.array_equal(run.u, ref.u) and np.array_equal(run.v, ref.v), engine
