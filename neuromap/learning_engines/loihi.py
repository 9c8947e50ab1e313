"""Learning engine ``loihi``: Lava 0.10.0's 2-factor learning engine (``LearningDense``/``LearningSparse``).

Image dict: ``{"engine": "loihi", **LearningConfig.to_dict()}`` (:class:`neuromap.learning_rules.LearningConfig`:
product series dw/dd/dt, trace impulses and time constants, t_epoch, seeds, sign_mode, num_weight_bits;
docs/learning.md); arrays: optional ``tag_1``, ``tag_2`` (int, one per synapse, image order; default 0).
The state and Lava's random streams live in :mod:`neuromap.learning_engines.loihi_step`, the arithmetic in
:mod:`neuromap.learning_engines.loihi_numba` (its one implementation, bit-identical to Lava); every stored
synapse of the projection learns (CSR semantics). The compiler writes this dict for pair ``stdp``
(:func:`neuromap.compiler.quantize_learning._stdp_loihi`: Lava rule strings, not plain coefficients), so
this engine has no ``quantize``.

Lava ordering (what a ``LearningDense`` at time step t sees: pre spikes sent at t, the post neuron's spikes
sent at t as back-propagating action potentials, learning epochs) is handled in :func:`step`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neuromap.errors import ImageError, NetworkFormatError, TargetError
from neuromap.learning_engines.loihi_step import learning_step, make_state as make_learning_state
from neuromap.learning_engines.schema import QuantizeContext, Quantized
from neuromap.learning_rules import LearningConfig, config_from_rules

ENGINE = "loihi"
#: the post membrane v is not read
READS_V = False
#: per-synapse tags an image may give (8 b + sign each)
TAGS = ("tag_1", "tag_2")


@dataclass(frozen=True)
class Schema:
    """The typed image configuration: the parsed :class:`LearningConfig`."""

    ENGINE: ClassVar[str] = ENGINE
    ARRAYS: ClassVar[dict[str, str]] = {"tag_1": "int[S]: initial tag t per synapse (optional, default 0)",
                                        "tag_2": "int[S]: initial delay tag d per synapse (optional, default 0)"}
    config: LearningConfig

    @classmethod
    def from_dict(cls, d, where: str = "image learning", fill_defaults: bool = False) -> "Schema":
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ImageError(f"{where}: learning must be a dict naming its engine")
        te = d.get("t_epoch")
        if isinstance(te, bool) or not isinstance(te, int) or not 1 <= te <= 63:
            raise ImageError(f"{where}: learning t_epoch {te!r} is outside [1, 63] (6-bit epoch time)")
        if not any(isinstance(d.get(k), list) and d[k] for k in ("dw", "dd", "dt")):
            raise ImageError(f"{where}: loihi learning has no dw, dd or dt product list")
        try:
            return cls(LearningConfig.from_dict({k: v for k, v in d.items() if k != "engine"}))
        except NetworkFormatError as e:
            raise ImageError(f"{where}: image learning configuration: {e} (recompile the network)") from None

    def to_dict(self) -> dict:
        return {"engine": ENGINE, **self.config.to_dict()}

    def check_projection(self, sign_mode: str, num_weight_bits: int, where: str) -> None:
        """The rule's sign_mode and num_weight_bits are the projection's."""
        for key, have in (("sign_mode", sign_mode), ("num_weight_bits", num_weight_bits)):
            mine = getattr(self.config, key)
            if mine != have:
                raise ImageError(f"{where}: learning {key} {mine!r} differs from the projection's {have!r} "
                                 "(recompile)")

    def check_arrays(self, arrays: dict, n_syn: int, where: str) -> None:
        for name, a in arrays.items():
            if name not in TAGS or a.shape != (n_syn,):
                raise ImageError(f"{where}: loihi learning array {name!r} {a.shape} is not a per-synapse tag "
                                 f"(tag_1 or tag_2 of shape ({n_syn},))")


#: Lava's learning-engine widths (lava/magma/core/learning/constants.py): trace 7 b, w factor 9 b, scaling
#: mantissa 4 b, accumulator 15 b; a product's MAC is shifted right by max(0, widths + 4 - 15) before
#: ``<< s_exp``, and the accumulator holds the weight << 7
_W_TRACE, _W_SYN, _W_MANT, _W_ACC, _ACC_FRAC = 7, 9, 4, 15, 7
#: trace impulse the pair-STDP mapping aims for (x1, y1 saturate at 127: room for ~6 close spikes)
STDP_IMPULSE = 20.0


def loihi_product(coef: float, w_factor: bool, fld: str, name: str) -> tuple[str, float, float]:
    """A Lava rule literal and a trace impulse for ``coef`` (stored-weight units per spike of the float trace,
    per stored-weight unit when the product has a w factor): ``(literal, impulse, realized coef)``.

    The product adds ``m 2**(s_exp - 7) x1 / 2**shift`` weight units (``shift`` 5 with a 9-bit w factor, else
    0), so per float trace unit ``m 2**(s_exp - 7) I / 2**shift``; the 4-bit mantissa ``m`` and exponent are
    chosen so the impulse ``I`` (8-bit fraction) lands nearest :data:`STDP_IMPULSE`, then ``I`` absorbs the
    rest of ``coef``. Raises TargetError when no impulse in [1, 127] reaches it."""
    shift = max(0, _W_TRACE + (_W_SYN if w_factor else 0) + _W_MANT - _W_ACC)
    mag, sgn = abs(coef), (-1 if coef < 0 else 1)
    best = None
    for s_exp in range(16):
        for m in range(1, 8 + (sgn < 0)):
            per_trace = m * 2.0 ** (s_exp - _ACC_FRAC - shift)
            imp = round(mag / per_trace * 256) / 256
            if 1.0 <= imp <= 127.0:
                score = abs(math.log2(imp / STDP_IMPULSE))
                if best is None or score < best[0] - 1e-12:
                    best = (score, m, s_exp, imp, per_trace)
    if best is None:
        lo, hi = 2.0 ** (-_ACC_FRAC - shift), 8 * 2.0 ** (15 - _ACC_FRAC - shift) * 127
        raise TargetError(f"{fld}.plasticity.{name}: {mag:.3g} stored-weight units per spike is outside what the "
                          f"Loihi learning engine expresses ({lo:.3g} .. {hi:.3g}; change {name} or the weights' "
                          "scale)")
    _, m, s_exp, imp, per_trace = best
    return f"{sgn * m} * 2^{s_exp - _ACC_FRAC}", imp, sgn * per_trace * imp


def nearest_literal(value: float) -> tuple[str, float]:
    """The Lava literal ``m * 2^e`` (4-bit mantissa, ``e`` in -7..8) nearest ``value``, and its value."""
    best = min(((m * 2.0 ** e, m, e) for m in range(-8, 8) if m for e in range(-_ACC_FRAC, 16 - _ACC_FRAC)),
               key=lambda c: (abs(c[0] - value), abs(c[1])))
    return f"{best[1]} * 2^{best[2]}", best[0]


def stdp_rule(p, d: int, ws: float, sign: int, w_lo: int, w_hi: int, field_max: int, dt: float, fld: str):
    """Pair STDP (:mod:`neuromap.plasticity.stdp`, float parameters ``p``, synaptic delay ``d`` steps) as a Loihi
    2-factor rule; returns (learning dict or None when nothing learns, errors).

    Soft bound: ``dw = -a+ * x1 * y0 * (w - C+) - a- * y1 * x0 * (w - C-)`` with ``C+ = sign W_hi``,
    ``C- = sign W_lo`` (stored weights are ``sign`` times the magnitudes); additive: ``dw = sign (a+ x1 y0 -
    a- y1 x0)``, bounded by the stored field's saturation (0 and 255: the quantizer put ``w_max`` there).
    The engine sees a pre spike when it is emitted, the float rule when it arrives ``delay`` steps later:
    ``A+`` is scaled by ``exp(delay dt / tau_plus)``, ``A-`` by ``exp(-delay dt / tau_minus)`` so every pair
    at a float lag outside -delay+1 .. -1 steps gets the float rule's change. A post spike in the step its
    pre neuron emits sees the pre's new impulse in x1 (the float rule depresses that pair only): a product
    ``x0 * y0`` (times the soft bound's w factor) takes that potentiation back, to a 4-bit mantissa.
    Traces: impulse per spike chosen by :func:`loihi_product`, time constants ``tau / dt`` steps, ``t_epoch`` 1."""
    soft = p.get("bound", "additive") == "soft"
    a_plus = float(p["A_plus"]) * math.exp(d * dt / float(p["tau_plus"]))
    a_minus = float(p["A_minus"]) * math.exp(-d * dt / float(p["tau_minus"]))
    terms, kw, errors = [], {}, {}
    for name, amp, trace, dep, tau, bound, _target in (
            ("A_plus", a_plus, "x1", "y0", p["tau_plus"], w_hi, float(p["A_plus"])),
            ("A_minus", a_minus, "y1", "x0", p["tau_minus"], w_lo, float(p["A_minus"]))):
        if amp == 0.0:
            continue
        wf = f" * (w {'-' if sign > 0 else '+'} {bound})" if soft else ""
        if soft:     # magnitude change A (bound - |w|) per float trace unit, in stored units
            lit, imp, real = loihi_product(-amp, True, fld, name)
        else:
            lit, imp, real = loihi_product((sign if name == "A_plus" else -sign) * amp * ws, False, fld, name)
        terms.append(f"{lit} * {trace} * {dep}{wf}")
        if name == "A_plus":     # the same-step pre impulse's potentiation, taken back
            back, back_real = nearest_literal(-real)
            terms.append(f"{back} * x0 * y0{wf}")
            errors["same_step"] = abs(back_real + real) / abs(real)
        if not soft:
            real /= ws
        kw[f"{trace}_impulse"], kw[f"{trace}_tau"] = imp, float(tau) / dt
        errors[name] = abs(abs(real) - amp) / amp
    if not terms:
        return None, errors
    rule = " + ".join(terms).replace("+ -", "- ")
    cfg = config_from_rules(dw=rule, rng_seed=0, t_epoch=1, sign_mode="excitatory" if sign > 0 else "inhibitory",
                            num_weight_bits=8, **kw)
    w_min = float(p["w_min"])
    if not soft:     # hard bounds at the field's saturation: [0, field_max] stored units
        errors["w_max"] = abs(field_max / ws - float(p["w_max"])) / float(p["w_max"])
        errors["w_min"] = abs(w_min) / float(p["w_max"])
    return {"engine": "loihi", **cfg.to_dict()}, errors


def quantize(q: Quantized, p, ctx: QuantizeContext) -> None:
    """Pair ``stdp`` (float parameters ``p``: A_plus, A_minus, tau_plus, tau_minus, w_min, w_max, bound) as the
    image dict ``{"engine": "loihi", **LearningConfig.to_dict()}`` in ``q.fields`` (left empty when both
    amplitudes are 0: nothing learns), its errors in ``q.errors`` and ``w_range``/``rule`` in ``q.report``.
    ``ctx``: ``ws`` (stored-weight units per float weight unit), ``sign``, ``delay``, ``field_max``, ``dt``."""
    ws, field_max = ctx.ws, ctx.field_max
    w_lo = min(max(int(round(float(p["w_min"]) * ws)), 0), field_max)
    w_max = float(p["w_max"]) if math.isfinite(float(p["w_max"])) else field_max / ws
    w_hi = min(int(round(w_max * ws)), field_max)
    learning, errors = stdp_rule(p, ctx.delay, ws, ctx.sign, w_lo, w_hi, field_max, ctx.dt, ctx.where)
    q.fields.clear()
    if learning is None:
        return
    if p.get("bound", "additive") == "soft":
        errors["w_max"] = abs(w_hi / ws - w_max) / w_max if w_max else 0.0
    q.fields.update(learning)
    q.errors.update(errors)
    q.report.update(w_range=[w_lo, w_hi], rule=learning["rules"]["dw"])


@dataclass
class State:
    """One projection: the parsed config, the :class:`~neuromap.learning_engines.loihi_step.LearningState`
    over a CSR-by-post view of the synapses, the permutation image order -> CSR order, the CSR weight copy
    (int32; the engine owns the weights, so they are gathered once and scattered after every epoch)."""

    cfg: LearningConfig
    ls: object
    order: np.ndarray
    w_csr: np.ndarray
    started: bool = False      # w_csr holds the weights (gathered at the first epoch end, then kept)


def make_state(learning, arrays, n_pre, n_post, pre_idx, post_idx) -> State:
    """State of one projection (``learning``: its :class:`Schema` or image dict)."""
    cfg = Schema.from_dict(learning, "loihi learning").config
    pre_idx = np.asarray(pre_idx, np.int64)
    post_idx = np.asarray(post_idx, np.int64)
    order = np.lexsort((pre_idx, post_idx))
    indptr = np.zeros(n_post + 1, np.int64)
    np.cumsum(np.bincount(post_idx, minlength=n_post), out=indptr[1:])
    tags = {}
    for name in TAGS:
        a = arrays.get(name)
        if a is not None:
            if np.shape(a) != pre_idx.shape:
                raise ImageError(f"image learning array {name} has shape {np.shape(a)}, expected "
                                 f"{pre_idx.shape} (one per synapse; recompile)")
            tags[name] = np.asarray(a, np.int64)[order]
    unknown = sorted(set(arrays) - set(TAGS))
    if unknown:
        raise ImageError(f"image learning array {unknown[0]!r} is unknown to the loihi engine "
                         "(it has tag_1, tag_2; recompile)")
    ls = make_learning_state(cfg, n_pre, n_post, indptr=indptr, indices=pre_idx[order], **tags)
    return State(cfg, ls, order, np.zeros(order.size, np.int32))



def step(learning, state: State, weights, pre_spikes, post_spikes, t, post_v=None) -> None:
    """Lava's LearningDense at time step t gets the pre spikes and the post neurons' spikes of the same step
    (both ``send`` before the connection's ``recv`` in ``LoihiProtocol``), and learns at the end of the step
    when ``t % t_epoch == 0``; weights change only then. ``learning`` is ignored (the state holds it)."""
    learn = t % state.cfg.t_epoch == 0
    if learn and not state.started:     # only this engine changes the weights: gather once
        state.w_csr[:] = weights[state.order]
        state.started = True
    learning_step(state.cfg, state.ls, state.w_csr, pre_spikes, post_spikes, t)
    if learn:
        weights[state.order] = state.w_csr
