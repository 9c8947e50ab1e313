"""Plastic projections in the quantize pass: float rule parameters -> integer seed-rule engines.

For a projection whose float rule has an integer engine (:data:`ENGINE_OF`), the weights are
quantized at the widest weight format with the finest exponent that holds the range the rule
can reach (up to its ``w_max``, at most :data:`RANGE_CAP` times the largest initial weight), and the rule's parameters
are
converted into the units of those weights and the time step by the engine's own ``quantize``
(:mod:`neuromap.learning_engines`, one module per engine; this module extracts the plain float parameters
from the network model and writes the result through the engine's typed schema):

- weight-like parameters (amplitudes, pools, eta): ``round(p * ws * 2**WF)`` fine-weight units,
  ``ws`` = weight mantissa per float weight unit (the projection's ``weight_scale``);
- dimensionless coefficients: ``round(p * 2**AF)``; trace retentions ``round(2**16 exp(-dt/tau))``;
- nonlinear functions (Carlson's K and homeostatic factor per spike count; S, decay(C) and the
  soma production per calcium value) as tables rounded to nearest.

Pair ``stdp`` compiles onto Lava's 2-factor learning engine instead (engine ``loihi``, its ``quantize``:
:func:`neuromap.learning_engines.loihi.quantize`; docs/learning.md, *Pair STDP from the float rule*). Every
engine goes through the same interface: this module computes the weights and the plain numbers
(:class:`~neuromap.learning_engines.schema.QuantizeContext`), the engine's ``quantize`` its fields.

Each parameter's relative rounding error and each table's largest error go to the report.
Rounding: nearest (Python ``round``, half to even, compile time only).
"""
from __future__ import annotations

import math

import numpy as np

from neuromap import learning_engines
from neuromap.errors import ImageError, TargetError
from neuromap.learning_engines.clopath import mant_shift  # noqa: F401  (re-exported: tests, bench)
from neuromap.learning_engines.schema import QuantizeContext, Quantized, SeedRuleSchema

#: float rule -> integer engine (``learning["engine"]``; ``loihi`` = Lava's 2-factor learning engine)
ENGINE_OF = {"pool_stdp": "pool_stdp", "homeostatic_stdp": "homeostatic_stdp", "nn_stdp": "homeostatic_stdp",
             "vogels_isp": "vogels_isp", "clopath": "clopath", "stdp": "loihi"}
SUPPORTED_RULES = tuple(ENGINE_OF)
#: the learned weight range is fitted up to min(w_max, RANGE_CAP * max |w0|)
RANGE_CAP = 64.0


def _w_max(pr) -> float:
    return float(pr.plasticity.get("w_max", np.inf))


def saturating_bound(pr) -> float | None:
    """``w_max`` of a projection whose learned upper bound is the weight field's saturation (pair ``stdp``
    with hard bounds on the Loihi engine, ``w_max`` at most :data:`RANGE_CAP` times the largest initial
    weight: the quantizer scales w_max onto the largest stored weight), else None."""
    p = pr.plasticity
    if p and p["rule"] == "stdp" and p.get("bound", "additive") == "additive" and pr.n_synapses \
            and 0 < float(p["w_max"]) <= RANGE_CAP * float(np.max(np.abs(pr.weight))):
        return float(p["w_max"])
    return None      # (a w_max beyond RANGE_CAP x the initial weights: saturation at the cap, reported)


def reachable_weights(pr) -> np.ndarray:
    """Float weights of ``pr`` at the largest magnitude its integer-engine rule can reach (the initial
    weights for a frozen or static projection): used to size voltage scales and weight exponents."""
    if not pr.plasticity or pr.plasticity["rule"] not in ENGINE_OF or not pr.n_synapses:
        return pr.weight
    if saturating_bound(pr) is not None:
        return np.maximum(np.abs(pr.weight), saturating_bound(pr))
    w0 = float(np.max(np.abs(pr.weight)))
    top = min(_w_max(pr), RANGE_CAP * w0) if w0 > 0 else _w_max(pr)
    return np.maximum(np.abs(pr.weight), top if math.isfinite(top) else w0)


def quantize_plastic(pr, x: np.ndarray, s_p: float, sign: float, f, rounding: str, rng, dt: float, fld: str,
                     post=None):
    """Weights and integer learning engine of plastic projection ``pr``, or None (no engine: frozen).

    ``x``: target weights in hardware input units (``sign * s_p * w``); ``s_p`` hardware units per float
    weight unit; ``f``: the target's fields (``quantize._Fields``). Returns (q, learning, tables, report)
    with ``q`` as :func:`quantize.quantize_weights` returns it, at the widest weight format and the
    finest weight exponent that holds the largest reachable weight (``rounding``: nearest, or
    stochastic with ``rng``). ``post``: the post population's plan (voltage scale ``s``, ``v_reset``),
    needed by voltage-based rules (clopath).
    """
    rule = pr.plasticity["rule"]
    if rule not in ENGINE_OF:
        return None
    reach = reachable_weights(pr)
    top = s_p * (float(np.max(reach)) if reach.size else 0.0)
    mode = "inhibitory" if sign < 0 else "excitatory"
    lo, hi = f.w_lo[mode], f.w_hi[mode]
    field_max = max(abs(lo), abs(hi))
    # the finest exponent at which the largest reachable weight still fits the mantissa field
    e = next((e for e in range(f.exp_min, f.exp_max + 1) if round(top / 2.0 ** (e + f.act_shift)) <= field_max),
             f.exp_max)
    unit = 2.0 ** (e + f.act_shift)
    raw = x / unit
    r = np.rint(raw) if rounding == "nearest" else np.floor(raw + rng.random(raw.shape))
    m = np.clip(r, lo, hi).astype(np.int64)
    q = {"mantissa": m, "exp": e, "bits": f.bits_max, "sign_mode": mode, "clipped": int(np.sum(m != r)),
         "zeroed": int(np.sum((m == 0) & (x != 0))), "value": m * unit}
    ws = s_p / unit                                   # mantissa (magnitude) per float weight unit
    engine = ENGINE_OF[rule]
    delay = int(pr.delay[0]) if pr.n_synapses else 1
    if pr.n_synapses and np.any(pr.delay != pr.delay[0]):
        raise TargetError(f"{fld}.delay: a plastic projection needs one delay for all its synapses "
                          f"(found {int(pr.delay.min())}..{int(pr.delay.max())}; split the projection by delay)")
    p = pr.plasticity
    eng = learning_engines.ENGINES[engine]
    n_post = int(pr.post_idx.max()) + 1 if pr.n_synapses else 1
    ctx = QuantizeContext(ws=ws, dt=dt, where=fld,
                          max_fan_in=int(np.max(np.bincount(pr.post_idx, minlength=n_post))) if pr.n_synapses else 0,
                          v_scale=None if post is None else float(post.s),
                          v_reset=None if post is None else float(post.v_reset), v_max=int(f.v_max),
                          sign=int(-1 if sign < 0 else 1), delay=delay, field_max=int(field_max))
    if issubclass(eng.Schema, SeedRuleSchema):   # the fields every seed rule has, then the engine's own
        P = Quantized({"engine": engine, "rule": rule, "sign": ctx.sign, "delay": delay})
        P.fields["w_lo"] = min(max(int(round(p["w_min"] * ws)), 0), field_max)
        w_max = p["w_max"] if math.isfinite(p["w_max"]) else top
        P.fields["w_hi"] = min(int(round(w_max * ws)), field_max)
        P.errors["w_hi"] = abs(P.fields["w_hi"] / ws - w_max) / w_max if w_max else 0.0
    else:
        P = Quantized()
    eng.quantize(P, p, ctx)
    if not P.fields:               # the engine found nothing to learn (e.g. loihi with A_plus = A_minus = 0)
        return None
    try:
        learning = eng.Schema.from_dict(P.fields, f"{fld}.plasticity", fill_defaults=True).to_dict()
    except ImageError as e:        # a parameter outside the engine's integer range
        raise TargetError(str(e).replace(" (recompile)", " (change the rule's parameters)")) from None
    extra = dict(P.report)
    w_range = extra.pop("w_range", None) or [learning["w_lo"], learning["w_hi"]]
    report = {"engine": engine, "weight_scale": ws, "w_range": w_range, "param_rel_error": P.errors,
              "table_rel_error": P.table_errors, **extra}
    return q, learning, P.tables, report
