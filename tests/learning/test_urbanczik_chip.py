"""Urbanczik-Senn on the chip (engine ``loihi3f_us``, docs/voltage-rules.md *On chip: Urbanczik-Senn with the
dendritic error as third factor*): the engine against the scalar oracles (the neuron's third factor,
tests/oracles/loihi3f_us.py, feeding the ``loihi3f`` connection oracle) every step on random compartment
voltages and spike trains; the compiled example network learns on the emulator (weights rise towards the float
rule's); an image whose post neurons are not dendrites is refused; ``neuromap validate`` finds Lava identical."""
from __future__ import annotations

import dataclasses
import functools
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backends.lava.compat import lava_available
from emulator import emulate
from neuromap.errors import ImageError
from neuromap.learning_engines import loihi3f_us
from neuromap.toolchain import compile_network
from tests.helpers.cli import run_cli
from tests.helpers.loihi_learning import SETTINGS
from tests.oracles import loihi3f_us as us_oracle
from tests.oracles.loihi3f import Oracle

if not lava_available():       # rule strings are parsed by Lava's parser
    pytest.skip("lava-nc not installed", allow_module_level=True)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import urbanczik_senn as example  # noqa: E402


@functools.lru_cache(maxsize=None)
def _compiled(eta=20.0):
    """The example (8 inputs) compiled for loihi, once per eta per worker (read-only)."""
    net = example.build("time", eta, n_in=8)
    return net, compile_network(net, "loihi")


def _learning(res):
    pm = next(p for p in res.image.projections if p.learning)
    return pm.learning, pm.learning_arrays


@settings(max_examples=15, **SETTINGS)
@given(st.integers(0, 2 ** 31 - 1), st.sampled_from([1.0, 20.0, 200.0]))
def test_engine_matches_oracles_every_step(seed, eta):
    learning, arrays = _learning(_compiled(eta)[1])
    learning = {**learning, "seed": seed % 1000}
    rng = np.random.default_rng(seed)
    n_pre, n_post, T = int(rng.integers(1, 6)), int(rng.integers(1, 4)), 80
    pre = rng.random((T, n_pre)) < 0.15
    post = np.zeros((T, n_post), bool)                 # dendrites never spike
    # v of the dendrites and somas: around the example's operating range plus the table edges
    v_d = rng.integers(-30_000, 90_000, (T, n_post))
    v_s = rng.choice([-(2 ** 23) + 1, 0, 2 ** 23 - 1], (T, n_post)) if seed % 5 == 0 else \
        rng.integers(-600_000, 6_000_000, (T, n_post))
    w0 = rng.integers(-128, 128, (n_post, n_pre)) * 2
    pre_idx = np.tile(np.arange(n_pre), n_post)
    post_idx = np.repeat(np.arange(n_post), n_pre)
    st_ = loihi3f_us.make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx)
    w = w0.reshape(-1).astype(np.int32)
    draws = us_oracle.dither(learning, n_post)
    y2 = []
    for t in range(T):
        r = next(draws)
        y2.append([us_oracle.y2(learning, arrays["phi_lut"], arrays["h_lut"], int(v_d[t, j]), int(v_s[t, j]), r[j])
                   for j in range(n_post)])
    cfg = loihi3f_us.Schema.from_dict(learning).config
    o = Oracle(cfg, 0.0, 1.0, w0.tolist(), lambda t, j: y2[t - 1][j])
    nonzero = 0
    for t in range(1, T + 1):
        loihi3f_us.step(learning, st_, w, pre[t - 1], post[t - 1], t, np.concatenate([v_d[t - 1], v_s[t - 1]]))
        o.step(pre[t - 1], post[t - 1], t)
        assert st_.y2.tolist() == y2[t - 1], t
        assert np.array_equal(w.reshape(n_post, n_pre), np.array(o.weights)), t
        nonzero += sum(1 for x in y2[t - 1] if x)
    if eta == 200.0 and seed % 5:
        assert nonzero > 0                              # the error reaches the connection


def test_y2_by_hand():
    learning, arrays = _learning(_compiled()[1])
    phi, h = arrays["phi_lut"], arrays["h_lut"]
    sch = loihi3f_us.Schema.from_dict(learning)
    # equal predictions: no error, whatever the dither
    v_s = 1_000_000
    v_d = (v_s << learning["pred_shift"]) // learning["pred_mult"]
    r = np.array([0, (1 << sch.err_shift) - 1])
    got = loihi3f_us.third_factor(sch, phi, h, np.array([v_d, v_d]), np.array([v_s, v_s]), r)
    assert got.tolist() == [0, 0]
    # the soma far above the prediction: e > 0, floor((e M + r) / 2^sh) is 0 or 1 (E[q] < 1), y2 = 8 q
    e = (int(phi[-1]) - int(phi[0])) * int(h[0])
    q_lo, q_hi = (e * sch.err_mult) >> sch.err_shift, (e * sch.err_mult + (1 << sch.err_shift) - 1) >> sch.err_shift
    got = loihi3f_us.third_factor(sch, phi, h, np.array([-(2 ** 23)] * 2), np.array([2 ** 23 - 1] * 2), r)
    assert got.tolist() == [8 * q_lo, 8 * q_hi] and q_lo >= 0 and q_hi >= 1


def test_example_learns_on_the_emulator():
    """8 inputs, 1 s: the dendritic weights rise from 0 as in float (the teacher drives the soma above the
    dendrite's prediction)."""
    net, res = _compiled()
    run = emulate(res.image, 10_000, "numpy", weight_every=5000)
    k = next(k for k, p in enumerate(res.image.projections) if p.learning)
    w = run.weights[k].astype(np.int64)
    assert w[0].mean() > 0 and w[-1].mean() > w[0].mean()


def test_post_must_be_dendrites():
    res = _compiled()[1]
    img = res.image
    nu = {k: v for k, v in img.neurons.items() if k != "join_parent"}
    with pytest.raises(ImageError, match="dendrite compartments"):
        emulate(dataclasses.replace(img, neurons=nu), 5, "numpy")


@pytest.mark.lava
def test_validate_in_lava(tmp_path, capsys):
    """``neuromap validate``: the compartments (DendriteLIF -> SomaLIF) and the engine in Lava's
    NeuromapPlasticSparse, reading v of the dendrites (``v_in``) and of their somas (``v_soma_in``): v every step
    and weights every 10 steps identical to the emulator's, while the weights learn (eta 500, 8 inputs)."""
    img = _compiled(500.0)[1].image
    img.save(tmp_path / "us")
    code, out, err = run_cli(["validate", tmp_path / "us", "--steps", 1000, "--weight-every", 10, "--quiet"], capsys)
    assert code == 0, out + err
    assert out.strip().splitlines()[0].startswith("identical: 1000 steps, ")
    run = emulate(img, 1000, "numpy", weight_every=1000)
    k = next(k for k, p in enumerate(img.projections) if p.learning)
    assert not np.array_equal(run.weights[k][-1], img.synapses["weight"][img.synapse_projections() == k])


def test_example_chip_learning_curve():
    """``examples/urbanczik_senn.py --chip``'s function on a short run: error windows from the chip's own v, and the
    learned weights in float units (0 without learning)."""
    c = example.chip_learning_curve(20.0, t_ms=300.0, window_ms=100.0, engine="numpy")
    assert c["error"].shape == (3,) and np.all(c["error"] > 0) and c["weights"].shape == (40,)
    c0 = example.chip_learning_curve(0.0, t_ms=100.0, window_ms=100.0, engine="numpy")
    assert c0["error"].shape == (1,) and c0["weights"].size == 0
