"""Pair STDP compiled onto the Loihi learning engine is bit-identical to Lava 0.10.0's ``LearningDense``
(issue 19, item 8): random float ``stdp`` parameters (additive and soft bounds, excitatory and inhibitory)
through the compiler's mapping, then the emulator's engine (numpy and numba) against Lava in-process on
random spike trains, every learning variable after every step; and a compiled network through
``validate`` (emulator vs Lava, weights included)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backends.lava.compat import lava_available
from tests.helpers.loihi_learning import SETTINGS, compare, compiled, net, stdp_params

pytestmark = pytest.mark.lava
if not lava_available():
    pytest.skip("lava-nc not installed", allow_module_level=True)


@st.composite
def stdp_case(draw):
    bound = draw(st.sampled_from(["additive", "soft"]))
    params = stdp_params(bound, A_plus=draw(st.floats(0.002, 0.08)), A_minus=draw(st.floats(0.002, 0.08)),
                         tau_plus=draw(st.floats(3.0, 40.0)), tau_minus=draw(st.floats(3.0, 40.0)),
                         w_min=draw(st.sampled_from([0.0, 0.02])), w_max=draw(st.floats(0.1, 0.5)))
    ws = draw(st.floats(300.0, 2000.0))
    sign = draw(st.sampled_from([1, -1]))
    dt = draw(st.sampled_from([1.0, 0.5]))
    n_pre, n_post, T = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(10, 30))
    return params, ws, sign, dt, n_pre, n_post, T, draw(st.integers(0, 2 ** 32 - 1))


def check_case(case):
    params, ws, sign, dt, n_pre, n_post, T, seed = case
    cfg, learning, _ = compiled(params, ws, sign, dt)
    rng = np.random.default_rng(seed)
    pre = rng.random((T, n_pre)) < rng.uniform(0.1, 0.6)
    post = rng.random((T, n_post)) < rng.uniform(0.1, 0.6)
    w = sign * rng.integers(0, 256, (n_post, n_pre))
    rule = {"dw": learning["rules"]["dw"], "t_epoch": 1, "rng_seed": cfg.rng_seed,
            **{f"{tr}_{k}": getattr(cfg, f"{tr}_{k}") for tr in ("x1", "y1") for k in ("impulse", "tau")}}
    compare(cfg, w, pre, post, {"rule": rule})


@settings(max_examples=3, **SETTINGS)
@given(stdp_case())
def test_compiled_pair_stdp_identical_to_lava(case):
    check_case(case)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=False)
@given(stdp_case())
def test_compiled_pair_stdp_identical_to_lava_sweep(case):
    check_case(case)


@pytest.mark.parametrize("bound", ["soft", "additive"])
def test_compiled_network_validates_identical(bound):
    """The whole compiled network (LIF + Poisson + pair STDP on an all-to-all inhibitory projection):
    spikes and learned weights identical in the emulator and Lava."""
    from neuromap.toolchain import compile_network
    from neuromap.validate import validate_image
    n = net(bound)
    n.populations["inp"].neuron["rate"] = np.full(40, 40.0)
    img = compile_network(n, "loihi", placer="greedy").image
    assert any(pm.learning and pm.learning["engine"] == "loihi" for pm in img.projections)
    from emulator import emulate
    run = emulate(img, 60, weight_every=60)
    k = next(k for k, pm in enumerate(img.projections) if pm.learning)
    assert np.count_nonzero(run.weights[k][-1] != img.synapses["weight"][img.synapse_projections() == k]) > 10
    assert "identical" in validate_image(img, 60, weight_every=10)
