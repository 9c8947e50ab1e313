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
from neuromap.controllers.esn_pool import EsnQController
from neuromap.embedded import esn_q
from neuromap.errors import ImageError, TargetError
from neuromap.learning_engines import loihi3f, pool_stdp
from neuromap.learning_engines.clopath import mant_shift  # noqa: F401  (re-exported: tests, bench)
from neuromap.learning_engines.fixed import WF
from neuromap.learning_engines.loihi import _ACC_FRAC, loihi_product, nearest_literal
from neuromap.learning_engines.schema import QuantizeContext, Quantized, SeedRuleSchema
from neuromap.learning_rules import config_from_rules
from neuromap.plasticity.rstdp import reward_steps

#: float rule -> integer engine (``learning["engine"]``; ``loihi`` = Lava's 2-factor learning engine)
ENGINE_OF = {"pool_stdp": "pool_stdp", "homeostatic_stdp": "homeostatic_stdp", "nn_stdp": "homeostatic_stdp",
             "vogels_isp": "vogels_isp", "clopath": "clopath", "stdp": "loihi", "rstdp": "loihi3f",
             "pool_esn": "pool_stdp"}
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
    if p and (p["rule"] == "rstdp" or p["rule"] == "stdp" and p.get("bound", "additive") == "additive") \
            and pr.n_synapses \
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
         "zeroed": int(np.sum((m == 0) & (x != 0))), "unit": unit}
    ws = s_p / unit                                   # mantissa (magnitude) per float weight unit
    engine = ENGINE_OF[rule]
    delay = int(pr.delay[0]) if pr.n_synapses else 1
    if pr.n_synapses and np.any(pr.delay != pr.delay[0]):
        raise TargetError(f"{fld}.delay: a plastic projection needs one delay for all its synapses "
                          f"(found {int(pr.delay.min())}..{int(pr.delay.max())}; split the projection by delay)")
    p = pr.plasticity
    if engine == "loihi3f":        # R-STDP reads the model's reward schedule: mapped here, not in the engine
        return _rstdp_loihi3f(pr, q, ws, int(sign), field_max, dt, fld)
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


#: largest eligibility (tag_1) the R-STDP mapping aims for (9-bit tag, saturating at 255)
RSTDP_TAG_TARGET = 128.0


def _rstdp_loihi3f(pr, q: dict, ws: float, sign: int, field_max: int, dt: float, fld: str):
    """Float ``rstdp`` (:mod:`neuromap.plasticity.rstdp`) as a three-factor rule on engine ``loihi3f``
    (docs/learning.md, *R-STDP from the float rule*): Lava's R-STDP, ``dt = A+' y0 x1 + A-' x0 y1 - tau_e' u0 t``,
    ``dw = L u0 t y2`` with the eligibility ``tag = c_e e`` (``c_e`` puts the largest expected eligibility
    ``max(|A+|, |A-|) / max(tau_e, 1/64)`` at :data:`RSTDP_TAG_TARGET`) and the third factor ``y2 = 64 sign(R)``
    in the reward windows; the literal ``L`` (rather than Lava's 1) makes ``L tag y2 / 32 = eta R e ws``: the
    product is floored only at ``>> 5`` and the rest stochastically rounded, so the floor's bias is ``L`` stored
    units per step, not 1. ``A+'``: literal and pre impulse by :func:`loihi_product`; ``A-'``: literal and the post
    neuron's impulse so that the floored y1's summed effect per post spike equals the float trace's
    (:func:`_post_trace_product`); a pre spike emitted in a post spike's step is potentiated by the engine but
    depressed by the float rule (it arrives a step later): ``x0 * y0`` swaps the two; ``tau_e'`` the nearest
    literal. Delays: ``A+`` scaled by ``exp(d dt / tau_plus)``, ``A-`` by ``exp(-d dt / tau_minus)`` as for pair
    STDP. Weights saturate at the
    stored field (``w_max`` placed there by the quantizer)."""
    p = pr.plasticity
    d = int(pr.delay[0]) if pr.n_synapses else 1
    a_plus = float(p["A_plus"]) * math.exp(d * dt / float(p["tau_plus"]))
    a_minus = float(p["A_minus"]) * math.exp(-d * dt / float(p["tau_minus"]))
    R, eta = float(p["reward_value"]), float(p["eta"])
    e_max = max(abs(a_plus), abs(a_minus)) / max(float(p["tau_e"]), 1 / 64)
    c_e = RSTDP_TAG_TARGET / e_max if e_max > 0 else 1.0     # tag units per unit eligibility
    y2 = 64 if R != 0 else 0                                   # third factor = 64 sign(R) in the windows
    # per rewarded step the engine adds lit * tag * y2 / 32 stored units (>> 5, then the literal's shift with
    # stochastic rounding): lit = sign eta |R| ws 32 / (64 c_e)
    want = sign * eta * abs(R) * ws * 32 / (64 * c_e) if y2 else 0.0
    dw_lit, dw_real = nearest_literal(want) if want else ("0", 0.0)
    errors = {"eta": abs(dw_real - want) / abs(want) if want else 0.0}
    kw, terms = {}, []
    if a_plus != 0.0 and c_e != 0.0:
        lit, imp, real = loihi_product(a_plus * c_e, False, fld, "A_plus")
        terms.append(f"{lit} * y0 * x1")
        kw["x1_impulse"] = imp
        errors["A_plus"] = abs(real / c_e - a_plus) / abs(a_plus)
        # a pre spike emitted in the step of a post spike: the engine potentiates it (x1 holds the new impulse),
        # the float rule sees it arrive a step later and depresses it with y = 1: x0 * y0 swaps the two
        want_same = -real + float(p["A_minus"]) * c_e
        back, back_real = nearest_literal(want_same)
        terms.append(f"{back} * x0 * y0")
        errors["same_step"] = abs(back_real - want_same) / abs(want_same) if want_same else 0.0
    else:
        kw["x1_impulse"] = 0.0
    if a_minus != 0.0 and c_e != 0.0:
        decay = math.exp(-dt / float(p["tau_minus"]))
        lit, imp, real = _post_trace_product(a_minus * c_e / (1.0 - decay), decay, fld)
        terms.append(f"{lit} * x0 * y1")
        kw["y1_impulse"] = imp
        errors["A_minus"] = abs(real * (1.0 - decay) / c_e - a_minus) / abs(a_minus)
    else:
        kw["y1_impulse"] = 0.0
    tau_lit, tau_real = nearest_literal(float(p["tau_e"]))
    errors["tau_e"] = abs(tau_real - float(p["tau_e"])) / float(p["tau_e"]) if float(p["tau_e"]) else abs(tau_real)
    terms.append(f"-{tau_lit} * u0 * t" if not tau_lit.startswith("-") else f"{tau_lit[1:]} * u0 * t")
    rule = " + ".join(terms).replace("+ -", "- ")
    cfg = config_from_rules(dw=f"{dw_lit} * u0 * t * y2", dt=rule, rng_seed=0, t_epoch=1, x1_impulse=kw["x1_impulse"],
                            x1_tau=float(p["tau_plus"]) / dt, y1_tau=loihi3f.Y_TAU, y2_tau=loihi3f.Y_TAU,
                            y3_tau=loihi3f.Y_TAU, sign_mode="excitatory" if sign > 0 else "inhibitory",
                            num_weight_bits=8)
    learning = {"engine": "loihi3f", **cfg.to_dict(), "post_impulse": float(kw["y1_impulse"]),
                "post_tau": float(p["tau_minus"]) / dt}
    steps = reward_steps(p)
    arrays = {}
    if R != 0 and steps.size:
        arrays = {"third_factor_step": steps + 1, "third_factor_post": np.full(steps.size, -1, np.int64),
                  "third_factor_value": np.full(steps.size, int(np.sign(R)) * y2, np.int64)}
    if want == 0.0:
        arrays = {}
    w_max = float(p["w_max"])
    errors["w_max"] = abs(field_max / ws - w_max) / w_max if w_max else 0.0
    errors["w_min"] = abs(float(p["w_min"])) / w_max if w_max else 0.0
    report = {"engine": "loihi3f", "weight_scale": ws, "w_range": [0, field_max], "param_rel_error": errors,
              "table_rel_error": {}, "rule": rule, "third_factor": y2, "tag_per_eligibility": c_e}
    return q, learning, arrays, report


#: post-trace impulse the R-STDP mapping aims for (the neuron's y1 is floored every step: a large impulse keeps
#: its decay exponential for longer; two close spikes still fit the 7-bit factor)
POST_IMPULSE = 100.0


def post_trace_mass(impulse: float, decay: float) -> int:
    """Sum over the following steps of the R-STDP neuron's y1 after one spike (``y1 = floor(y1 decay + K s)``,
    docs/learning.md *Three-factor learning*): the floor makes it fall by at least 1 per step once
    ``y1 (1 - decay) < 1``, so it is below the float mass ``K / (1 - decay)``."""
    y, total = math.floor(impulse), 0
    while y > 0:
        total += y
        y = math.floor(y * decay)
    return total


def _post_trace_product(mass_coef: float, decay: float, fld: str) -> tuple[str, float, float]:
    """Literal and post impulse K for a depression term whose summed effect per post spike is ``mass_coef``
    (tag units per spike, float): ``lit * post_trace_mass(K) == mass_coef`` as nearly as the integer mass allows,
    with K in [1, 127] nearest :data:`POST_IMPULSE`. Returns (literal, K, realized mass coefficient)."""
    mag, sgn = abs(mass_coef), (-1 if mass_coef < 0 else 1)
    best = None
    for s_exp in range(16):
        for m in range(1, 8 + (sgn < 0)):
            lit = m * 2.0 ** (s_exp - _ACC_FRAC)
            need = mag / lit
            lo, hi = 1.0, 127.0
            if not post_trace_mass(lo, decay) <= need <= post_trace_mass(hi, decay):
                continue
            for _ in range(40):                 # the mass grows with K: bisection
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if post_trace_mass(mid, decay) < need else (lo, mid)
            k = min((lo, hi), key=lambda v: abs(post_trace_mass(v, decay) - need))
            score = abs(math.log2(k / POST_IMPULSE))
            if best is None or score < best[0] - 1e-12:
                best = (score, m, s_exp, k, lit * post_trace_mass(k, decay))
    if best is None:
        raise TargetError(f"{fld}.plasticity.A_minus: {mag:.3g} tag units per post spike is outside what the "
                          "Loihi learning engine expresses (change A_minus, eta or the weights' scale)")
    _, m, s_exp, k, real = best
    return f"{sgn * m} * 2^{s_exp - _ACC_FRAC}", k, sgn * real


def esn_controller(pr, n_post: int, ws: float, fld: str) -> tuple[dict, dict]:
    """The embedded-core controller of a ``pool_esn`` projection (:mod:`neuromap.embedded.esn_q`): the float
    controller's reservoir (same seed, so the chip starts from the reservoir the float rule draws) in fixed
    point. Returns (``hw["controller"]``: kind, period, fields, arrays; its quantization report)."""
    p = pr.plasticity
    ctl = EsnQController(n_post, int(p["n_res"]), float(p["rho"]), float(p["leak"]), float(p["in_scale"]),
                         float(p["lr"]), float(p["gamma"]), float(p["epsilon"]), int(p["seed"]))
    try:
        fields, arrays, report = esn_q.quantize(p, ctl.W_in, ctl.W, ws * 2 ** WF, float(1 << pool_stdp.CF))
    except ValueError as e:
        raise TargetError(f"{fld}.plasticity.{e}") from None
    return {"kind": esn_q.KIND, "period": int(p["period"]), "fields": fields, "arrays": arrays}, report


#: float rules whose parameters an embedded-core controller sets (:mod:`neuromap.embedded`): rule -> the function
#: building its controller, ``(pr, n_post, ws, fld) -> (hw["controller"], report)``
CONTROLLED = {"pool_esn": esn_controller}
