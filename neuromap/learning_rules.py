"""Loihi learning rules as plain data: Lava-syntax rule strings and ``STDPLoihi`` parameters.

A :class:`LearningConfig` is what the image stores for one plastic projection and what
``neuromap.learning_engines.loihi_step`` executes, bit-identically to Lava 0.10.0's ``LearningDense`` /
``LearningSparse`` fixed_pt (``bit_approximate``) models. It holds only ints, floats,
strings and tuples (:meth:`LearningConfig.to_dict` / :meth:`LearningConfig.from_dict`
round-trip through JSON exactly).

Rule strings (``dw = "2^-2 * x1 * y0 - 2^-2 * y1 * x0"``) are parsed with Lava's own
parser (``lava/magma/core/learning/symbolic_equation.py`` + ``product_series.py``), so
every quirk of its sum-of-products normalisation (mantissa/exponent folding, ``uk``
dependencies, ``sgn(w + C)``) is Lava's. Parsing needs lava-nc; running does not.

Bit widths (``lava/magma/core/learning/constants.py``): traces 7 b unsigned, impulse
fraction 8 b, scaling mantissa 4 b signed (-8..7), scaling exponent -7..8 (stored +7,
i.e. a left shift 0..15), accumulator 15 b + sign, weights 8 b + sign, tags 8 b + sign,
epoch time 6 b (``t_epoch`` 1..63).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from neuromap.errors import NetworkFormatError
from neuromap.lava_import import import_lava

TARGETS = ("dw", "dd", "dt")              # learning-rule targets -> weights, tag_2 (delay), tag_1 (tag)
DEPENDENCIES = ("x0", "y0", "u")
FACTOR_VARS = ("x0", "y0", "x1", "x2", "y1", "y2", "y3", "w", "d", "t", "C")
SIGN_MODES = ("mixed", "excitatory", "inhibitory")
# FACTOR_TO_WIDTH_DICT, lava/magma/core/learning/constants.py:65
FACTOR_WIDTH = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "d": 9, "t": 9, "C": 8}
MAX_T_EPOCH = 2 ** 6 - 1                  # W_EPOCH_TIME = 6


@dataclass(frozen=True)
class Factor:
    """One factor of a product: ``var + const`` or ``sgn(var + const)``; const None = no constant."""

    var: str
    const: int | None = None
    sgn: bool = False


@dataclass(frozen=True)
class Product:
    """``s_mantissa * 2^(s_exp - 7) * dependency * factor_1 * ...``.

    s_mantissa: -8..7 (4 b signed); s_exp: 0..15 (Lava's stored exponent, the left shift).
    """

    dependency: str
    s_mantissa: int
    s_exp: int
    factors: tuple[Factor, ...] = ()


@dataclass(frozen=True)
class LearningConfig:
    """One Loihi 2-factor learning rule, in hardware units.

    dw/dd/dt: product series (None = target not learned). Impulses are the (float) trace
    increments per spike (Lava splits them into integer + 8-bit fraction); taus are decay
    time constants in steps (0 = trace kept only on the spike step). rng_seed seeds the
    trace streams (seed..seed+3, Lava ``_init_randoms``); the synaptic-variable stream is
    Lava's fixed seed ``conn_rng_seed`` = 2. sign_mode and num_weight_bits are the
    projection's (Lava ``proc_params``: default MIXED and 8).
    """

    dw: tuple[Product, ...] | None = None
    dd: tuple[Product, ...] | None = None
    dt: tuple[Product, ...] | None = None
    x1_impulse: float = 0.0
    x1_tau: float = 0.0
    x2_impulse: float = 0.0
    x2_tau: float = 0.0
    y1_impulse: float = 0.0
    y1_tau: float = 0.0
    y2_impulse: float = 0.0
    y2_tau: float = 0.0
    y3_impulse: float = 0.0
    y3_tau: float = 0.0
    t_epoch: int = 1
    rng_seed: int = 0
    conn_rng_seed: int = 2
    decimate_exponent: int | None = None
    sign_mode: str = "mixed"
    num_weight_bits: int = 8
    rules: dict = field(default_factory=dict, compare=False)  # source strings, documentation only

    def __post_init__(self):
        _validate(self)

    @property
    def active_targets(self) -> tuple[str, ...]:
        return tuple(k for k in TARGETS if getattr(self, k) is not None)

    def to_dict(self) -> dict:
        """JSON-ready dict (floats round-trip exactly through ``json``)."""
        out = {}
        for k in TARGETS:
            ps = getattr(self, k)
            out[k] = None if ps is None else [
                {"dependency": p.dependency, "s_mantissa": p.s_mantissa, "s_exp": p.s_exp,
                 "factors": [{"var": f.var, "const": f.const, "sgn": f.sgn} for f in p.factors]}
                for p in ps]
        for k in _SCALARS:
            out[k] = getattr(self, k)
        out["rules"] = dict(self.rules)
        return out

    @classmethod
    def from_dict(cls, d: dict, *, field_prefix: str = "learning") -> "LearningConfig":
        """Inverse of :meth:`to_dict`; a bad entry raises NetworkFormatError naming it."""
        if not isinstance(d, dict):
            raise NetworkFormatError("must be a mapping", field=field_prefix)
        unknown = set(d) - set(TARGETS) - set(_SCALARS) - {"rules"}
        if unknown:
            raise NetworkFormatError(f"unknown key {sorted(unknown)[0]!r}", field=field_prefix,
                                     fix="use " + ", ".join(TARGETS + _SCALARS))
        kw = {k: d[k] for k in _SCALARS if k in d}
        for k in TARGETS:
            ps = d.get(k)
            if ps is None:
                continue
            try:
                kw[k] = tuple(Product(p["dependency"], p["s_mantissa"], p["s_exp"],
                                      tuple(Factor(f["var"], f.get("const"), bool(f.get("sgn", False)))
                                            for f in p.get("factors", ())))
                              for p in ps)
            except (KeyError, TypeError) as exc:
                raise NetworkFormatError(f"malformed product series ({exc})", field=f"{field_prefix}.{k}") from None
        try:
            return cls(rules=dict(d.get("rules", {})), **kw)
        except NetworkFormatError as e:
            raise e.located(prefix=field_prefix) from None


_SCALARS = ("x1_impulse", "x1_tau", "x2_impulse", "x2_tau", "y1_impulse", "y1_tau", "y2_impulse",
            "y2_tau", "y3_impulse", "y3_tau", "t_epoch", "rng_seed", "conn_rng_seed",
            "decimate_exponent", "sign_mode", "num_weight_bits")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate(c: LearningConfig) -> None:
    if not c.active_targets:
        raise NetworkFormatError("no learning rule given", field="dw", fix="give at least one of dw, dd, dt")
    uses_u = False
    for k in TARGETS:
        ps = getattr(c, k)
        if ps is None:
            continue
        if not isinstance(ps, tuple) or not ps:
            raise NetworkFormatError("must be a non-empty tuple of products", field=k)
        for i, p in enumerate(ps):
            f = f"{k}[{i}]"
            if p.dependency not in DEPENDENCIES:
                raise NetworkFormatError(f"unknown dependency {p.dependency!r}", field=f"{f}.dependency",
                                         fix="use x0, y0 or u")
            uses_u |= p.dependency == "u"
            if not _is_int(p.s_mantissa) or not -8 <= p.s_mantissa <= 7:
                raise NetworkFormatError(f"{p.s_mantissa!r} is not a 4-bit signed mantissa",
                                         field=f"{f}.s_mantissa", fix="use an integer in [-8, 7]")
            if not _is_int(p.s_exp) or not 0 <= p.s_exp <= 15:
                raise NetworkFormatError(f"{p.s_exp!r} is out of range", field=f"{f}.s_exp",
                                         fix="use an integer in [0, 15] (exponent + 7)")
            for j, fa in enumerate(p.factors):
                ff = f"{f}.factors[{j}]"
                if fa.var not in FACTOR_VARS:
                    raise NetworkFormatError(f"unknown factor {fa.var!r}", field=f"{ff}.var",
                                             fix="use one of " + ", ".join(FACTOR_VARS))
                if fa.const is not None and not _is_int(fa.const):
                    raise NetworkFormatError(f"{fa.const!r} is not an integer", field=f"{ff}.const")
                if fa.var == "C" and fa.const is None:
                    raise NetworkFormatError("constant factor without a value", field=f"{ff}.const")
                if fa.sgn and fa.var not in ("w", "d", "t"):
                    raise NetworkFormatError("sgn() applies only to w, d, t", field=f"{ff}.sgn")
    for name in ("x1", "x2", "y1", "y2", "y3"):
        for kind in ("impulse", "tau"):
            v = getattr(c, f"{name}_{kind}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise NetworkFormatError(f"{v!r} is not a finite number >= 0", field=f"{name}_{kind}")
    if not _is_int(c.t_epoch) or not 1 <= c.t_epoch <= MAX_T_EPOCH:
        raise NetworkFormatError(f"{c.t_epoch!r} is out of range", field="t_epoch",
                                 fix=f"use an integer in [1, {MAX_T_EPOCH}] (6-bit epoch time)")
    for k in ("rng_seed", "conn_rng_seed"):
        v = getattr(c, k)
        if not _is_int(v) or v < 0:
            raise NetworkFormatError(f"{v!r} is not an integer >= 0", field=k)
    if uses_u != (c.decimate_exponent is not None):
        raise NetworkFormatError("must be set exactly when a u dependency is used", field="decimate_exponent")
    if c.decimate_exponent is not None and (not _is_int(c.decimate_exponent) or not 0 <= c.decimate_exponent <= 9):
        raise NetworkFormatError(f"{c.decimate_exponent!r} is out of range", field="decimate_exponent",
                                 fix="use an integer in [0, 9] (the k of uk)")
    if c.sign_mode not in SIGN_MODES:
        raise NetworkFormatError(f"{c.sign_mode!r} is not allowed", field="sign_mode",
                                 fix="use one of " + ", ".join(SIGN_MODES))
    if not _is_int(c.num_weight_bits) or not 1 <= c.num_weight_bits <= 8:
        raise NetworkFormatError(f"{c.num_weight_bits!r} is out of range", field="num_weight_bits",
                                 fix="use an integer in [1, 8]")


def _product_series(target: str, rule: str) -> tuple[tuple[Product, ...], int | None]:
    """Parse one Lava rule string with Lava's parser; returns (products, decimate exponent)."""
    import_lava()
    # lazy: lava-nc is an optional heavy dependency, imported only when a rule string is parsed
    from lava.magma.core.learning.product_series import ProductSeries
    from lava.magma.core.learning.symbolic_equation import SymbolicEquation
    if not isinstance(rule, str) or not rule.strip():
        raise NetworkFormatError(f"{rule!r} is not a rule string", field=target,
                                 fix='write e.g. "2^-2 * x1 * y0 - 2^-2 * y1 * x0"')
    try:
        ps = ProductSeries(SymbolicEquation(target, rule))
    except Exception as exc:  # Lava raises ValueError/AttributeError/IndexError on bad syntax
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NetworkFormatError(f"cannot parse {rule!r}: {msg}", field=target,
                                 fix="use Lava's syntax: sums of products of x0 y0 uk x1 x2 y1 y2 y3 w d t, "
                                     "constants m*2^e, (v + C), sgn(w + C)") from None
    products = tuple(
        Product(p.dependency, int(p.s_mantissa), int(p.s_exp),
                tuple(Factor(f.state_var, None if f.const is None else int(f.const), bool(f.is_sgn))
                      for f in p.factors))
        for p in ps.products)
    return products, ps.decimate_exponent


def config_from_rules(*, dw: str | None = None, dd: str | None = None, dt: str | None = None,
                      rng_seed: int, **params) -> LearningConfig:
    """Build a config from Lava-syntax rule strings plus trace/epoch parameters.

    ``params``: x1_impulse, x1_tau, ..., y3_tau, t_epoch, sign_mode, num_weight_bits
    (same names and meanings as ``Loihi2FLearningRule`` and ``LearningDense``).
    """
    kw, rules, dec = {}, {}, set()
    for target, rule in (("dw", dw), ("dd", dd), ("dt", dt)):
        if rule is None:
            continue
        kw[target], k = _product_series(target, rule)
        rules[target] = rule
        if k is not None:
            dec.add(k)
    if len(dec) > 1:
        raise NetworkFormatError("uk terms with different k", field="dd" if dd else "dt",
                                 fix="use one decimation exponent k in all of dw, dd, dt")
    unknown = set(params) - set(_SCALARS)
    if unknown:
        raise NetworkFormatError(f"unknown parameter {sorted(unknown)[0]!r}", field=sorted(unknown)[0],
                                 fix="use " + ", ".join(_SCALARS))
    return LearningConfig(rules=rules, rng_seed=rng_seed, decimate_exponent=dec.pop() if dec else None,
                          **kw, **params)


def float_to_literal(value: float) -> str:
    """Lava's ``float_to_literal`` (lava/magma/core/learning/utils.py:53): ``(m) * 2 ^ e``."""
    if value == 0:
        return "0"
    sign = 1 if value > 0 else -1
    value = abs(value)
    mantissa = max(int(value), 1)
    remainder = value / mantissa
    if remainder == 1:
        return f"({sign * mantissa})"
    exp = int(round(math.log2(remainder)))  # np.round == round (half to even) on floats
    return f"({sign * mantissa}) * 2 ^ {exp}"


def stdp_loihi(*, learning_rate: float, A_plus: float, A_minus: float, tau_plus: float,
               tau_minus: float, rng_seed: int, x1_impulse: float = 16, y1_impulse: float = 16,
               **params) -> LearningConfig:
    """The config of Lava's ``STDPLoihi`` (lava/proc/learning_rules/stdp_learning_rule.py).

    dw = lr * A_minus * x0 * y1 + lr * A_plus * y0 * x1, every float written as (m) * 2 ^ e;
    x1 trace (tau_plus) on pre spikes, y1 trace (tau_minus) on post spikes.
    """
    for name, v in (("learning_rate", learning_rate), ("A_plus", A_plus), ("A_minus", A_minus),
                    ("tau_plus", tau_plus), ("tau_minus", tau_minus)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise NetworkFormatError(f"{v!r} is not a finite number", field=name)
    lr = float_to_literal(learning_rate)
    dw = f"{lr} * {float_to_literal(A_minus)} * x0 * y1 +{lr} * {float_to_literal(A_plus)} * y0 * x1"
    return config_from_rules(dw=dw, rng_seed=rng_seed, x1_impulse=x1_impulse, x1_tau=tau_plus,
                             y1_impulse=y1_impulse, y1_tau=tau_minus, **params)
