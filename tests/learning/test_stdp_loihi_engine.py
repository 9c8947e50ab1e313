"""Pair STDP (the float ``stdp`` rule, additive and soft bounds) compiled onto Loihi's learning engine
(issue 19, item 8): the compiled rule against the float rule pair by pair, and in a network against the
float reference (``compare``). Lava identity: tests/learning/test_stdp_loihi_lava.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

from neuromap.learning_engines.loihi_step import learning_step, make_state, truncate_weights
from neuromap.plasticity.stdp import Rule as FloatStdp
from tests.helpers.loihi_learning import compiled, net, stdp_params


def chip_pair(cfg, w0: int, t_pre: int, t_post: int, steps: int = 30) -> int:
    """Stored weight after one pre emission at ``t_pre`` and one post spike at ``t_post`` (steps 1..)."""
    w = truncate_weights(cfg, np.array([[w0]]))
    st = make_state(cfg, 1, 1)
    for t in range(1, steps + 1):
        learning_step(cfg, st, w, np.array([t == t_pre]), np.array([t == t_post]), t)
    return int(w[0, 0])


def float_pair(params, w0: float, t_pre: int, t_post: int, delay: int = 1, steps: int = 30) -> float:
    """Float weight after the same pair: the float rule sees the pre spike when it arrives (t_pre + delay)."""
    r = FloatStdp(params, np.zeros(1, np.int64), np.zeros(1, np.int64), 1, 1, 1.0)
    w = np.array([w0])
    for t in range(1, steps + 1):
        r.step(w, np.array([t == t_pre + delay]), np.array([t == t_post]), None)
    return float(w[0])


@pytest.mark.parametrize("bound", ["additive", "soft"])
@pytest.mark.parametrize("sign", [1, -1])
def test_single_pairs_follow_the_float_rule_at_every_lag(bound, sign):
    """One pre emission and one post spike at lags -8..8 steps (post minus emission), including the pair
    whose post spike falls in the emission step (the engine would potentiate it; the compiled rule takes
    that back): the chip's weight change equals the float rule's, in stored units, within the trace and
    weight stochastic rounding (1 unit) and the reported parameter errors."""
    params = stdp_params(bound)
    ws = 700.0
    cfg, learning, errors = compiled(params, ws, sign)
    assert learning["engine"] == "loihi" and max(errors["A_plus"], errors["A_minus"]) < 1e-3
    assert errors["same_step"] < 0.3        # the same-step correction's 4-bit literal (tolerance below)
    w0f = 0.15
    for lag in range(-8, 9):
        t_pre = 20
        t_post = t_pre + lag
        d_float = (float_pair(params, w0f, t_pre, t_post) - w0f) * ws
        runs = [chip_pair(dataclass_seed(cfg, k), sign * round(w0f * ws), t_pre, t_post) - sign * round(w0f * ws)
                for k in range(4)]
        d_chip = sign * float(np.mean(runs))
        tol = 0.08 * abs(d_float) + 0.6 + (errors["same_step"] * abs(d_float) if lag == 0 else 0.0)
        assert abs(d_chip - d_float) <= tol, (bound, sign, lag, d_chip, d_float)


def dataclass_seed(cfg, k):
    import dataclasses
    return dataclasses.replace(cfg, rng_seed=k)


def test_soft_bound_holds_weights_inside_the_bounds():
    """Soft bound: potentiation alone drives w up to W_hi = w_max ws and never past it; depression alone
    down to W_lo = w_min ws and never below."""
    ws = 800.0
    w = np.array([[100]], np.int32)
    for A_plus, A_minus, lo, hi in ((0.2, 0.0, 190, 200), (0.0, 0.2, 40, 46)):
        cfg, _, _ = compiled(stdp_params("soft", A_plus=A_plus, A_minus=A_minus, w_min=0.05, w_max=0.25), ws, 1)
        st = make_state(cfg, 1, 1)
        for t in range(1, 600):
            learning_step(cfg, st, w, np.array([t % 5 == 1]), np.array([t % 5 == 3]), t)
            assert 40 <= w[0, 0] <= 200
        assert lo <= w[0, 0] <= hi, (A_plus, int(w[0, 0]))


@pytest.mark.parametrize("bound, rms_max", [("soft", 0.15), ("additive", 0.9)])
def test_compiled_stdp_learns_on_chip_and_the_error_is_reported(bound, rms_max):
    """Before: ``stdp`` compiled with frozen weights ('frozen at the initial weights' warning)."""
    from neuromap.compare import compare
    rep = compare(net(bound), "loihi", 3000)
    assert not any("frozen" in w for w in rep.warnings)
    q = next(p for p in rep.quantization["projections"] if p["plasticity"] == "stdp")
    assert q["learning"]["engine"] == "loihi" and "x1 * y0" in q["learning"]["rule"]
    assert q["learning"]["param_rel_error"]["A_plus"] < 1e-3
    (wc,) = rep.weights
    assert wc.learned_on_chip and wc.rms_rel_error < rms_max
    assert abs(wc.mean_hw - wc.mean_ref) < 0.25 * wc.mean_ref


def test_hard_bound_lands_on_the_weight_field():
    """Additive: the quantizer scales the post population so w_max is the largest stored weight (255), where
    the engine saturates: the hard bound holds exactly."""
    from neuromap.compiler.quantize import quantize_network
    hw, rep = quantize_network(net("additive"), __import__("neuromap.targets", fromlist=["x"]).load_target("loihi"))
    q = next(p for p in rep.projections if p.plasticity == "stdp")
    assert q.learning["w_range"][1] == 255 and q.learning["param_rel_error"]["w_max"] < 1e-3
    assert math.isclose(255 / q.learning["weight_scale"], 0.3, rel_tol=1e-3)


def test_huge_w_max_compiles_with_the_bound_error_reported():
    """A w_max far above the weights (1e9) saturates at RANGE_CAP x the largest initial weight instead of
    leaving no room for the threshold; the report says how far the realized bound is from w_max."""
    from neuromap.compiler.quantize import quantize_network
    from neuromap.targets import load_target
    n = net("additive")
    n.projections[0].plasticity = {**n.projections[0].plasticity, "w_max": 1e9}
    _, rep = quantize_network(n, load_target("loihi"))
    q = next(p for p in rep.projections if p.plasticity == "stdp")
    assert q.learning["engine"] == "loihi" and q.learning["param_rel_error"]["w_max"] > 0.99
