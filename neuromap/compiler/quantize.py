"""Quantization pass: a float ``lif`` / ``if`` network -> the hardware-unit (``loihi_lif``) network.

Derivation and every rounding step: ``docs/quantization.md``. In short (one step of dt):

float ``lif`` (neuromap/neurons/lif.py), with v' = v - v_reset::

    J_t  = b J_{t-1} + in_t                          b = exp(-dt/tau_syn)
    v'_t = a v'_{t-1} + (v_inf - v_reset)(1 - a) + p J_t     a = exp(-dt/tau_m), p = propagator

``loihi_lif`` (Lava PyLifModelBitAcc with the target's widths; U = 2**decay_bits, shown for Loihi's
decay_bits = 12, threshold_shift = activation_shift = 6)::

    u_t = u_{t-1} (U - du - 1)/U + (sum_i w_i << weight_exp) << 6
    v_t = v_{t-1} (U - dv)/U + u_t + bias_mant << bias_exp ;  spike if v_t > vth << 6, v <- 0

so with a per-population voltage scale s (hardware units per float voltage unit)
``u = s p J``, ``v = s v'``: ``du + 1 = round(U (1 - b))``, ``dv = round(U (1 - a))``,
``vth << 6 = s (v_th - v_reset)``, ``bias = s (v_inf - v_reset)(1 - a_hw)`` and every
synapse's mantissa ``w_hw = s p w / 2**(6 + weight_exp)`` (``if``: p = 1, du = U - 1, dv = 0).
All field widths (decay bits, threshold bits and shift, activation shift, bias
mantissa/exponent bits, weight bits and exponent range, voltage and current bits) come from
:func:`neuromap.compiler.arithmetic.lif_arithmetic` of the :class:`~neuromap.targets.Target`, the same
:class:`~neuromap.image.LifArithmetic` the image records and the emulator runs.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from neuromap.compiler import quantize_compartments, quantize_learning
from neuromap.compiler.arithmetic import lif_arithmetic
from neuromap.compiler.reset import check_reset
from neuromap.errors import TargetError
from neuromap.network import Network, Population, Probe, Projection
from neuromap.neurons import neuron_module  # noqa: F401  (registry import keeps model names honest)
from neuromap.neurons.lif import NEVER_FIRES

#: Lava's ``ds_offset``: the current decays by (du + 1) / 4096 (lava/proc/lif/models.py,
#: AbstractPyLifModelFixed). Part of the ``loihi_lif`` model's arithmetic, not of the target.
DU_OFFSET = 1
#: float models this pass maps, and the input models it copies unchanged
FLOAT_MODELS = ("lif", "if")
INPUT_MODELS = ("poisson", "spike_source")
ROUNDING = ("nearest", "stochastic")


@dataclass
class ProjectionQuant:
    """What quantization did to one projection (weights in float units unless noted).

    scale: weight mantissa per float weight unit (w_hw ~= scale * w); weight_exp: shared
    exponent; effective_bits: smallest num_weight_bits that holds every mantissa exactly
    (the compiled projection's num_weight_bits);
    rms_rel_error / max_rel_error: over nonzero float synapses, |w_eff - w| / |w|;
    clipped: synapses whose mantissa exceeded the stored range; zeroed: nonzero synapses
    that became 0.
    """

    name: str
    pre: str
    post: str
    n_synapses: int
    scale: float
    weight_exp: int
    effective_bits: int
    sign_mode: str
    rms_rel_error: float
    max_rel_error: float
    clipped: int
    zeroed: int
    plasticity: str | None = None
    #: integer learning engine of a plastic projection and its rounding errors
    #: (neuromap.compiler.quantize_learning); None = static or frozen
    learning: dict | None = None


@dataclass
class PopulationQuant:
    """What quantization did to one population.

    v_scale: hardware voltage units per float voltage unit (s); vth: threshold mantissa
    (threshold = vth << threshold_shift); bound_by: the field that limited s;
    threshold_rel_error: hardware fires at v >= theta + 1/s (strict >) -> 1/(s theta);
    tau_*_hw: time constants the integer decays realize (ms; 0 = full decay in one step);
    decay_*_rel_error: relative error of the per-step decay fraction (1 - a);
    bias_max_rel_error: over neurons with nonzero bias.
    """

    name: str
    model: str
    size: int
    v_scale: float
    vth: int
    bound_by: str
    threshold_rel_error: float
    du: int
    dv: int
    tau_syn: float | None
    tau_syn_hw: float | None
    decay_u_rel_error: float
    tau_m: float | None
    tau_m_hw: float | None
    decay_v_rel_error: float
    bias_max_rel_error: float
    refractory_dropped: int = 0
    #: population-local neurons of this entry when the population was quantized in groups (per-neuron tau_m,
    #: tau_syn, v_th or v_reset: one entry per group of equal values, :func:`uniform_groups`); None: all
    neurons: list[int] | None = None
    #: a non-spiking readout (v_th = :data:`~neuromap.neurons.lif.NEVER_FIRES`): vth is the largest mantissa and
    #: the scale keeps every reachable v below it; float v = v_hw / v_scale + v_reset
    readout: bool = False
    v_reset: float | None = None


@dataclass
class QuantizationReport:
    """Per population and projection losses, plus warnings; ``to_dict`` is JSON-serializable."""

    target: str
    rounding: str
    seed: int
    populations: list[PopulationQuant] = field(default_factory=list)
    projections: list[ProjectionQuant] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QuantizationReport":
        return cls(d["target"], d["rounding"], d["seed"],
                   [PopulationQuant(**p) for p in d["populations"]],
                   [ProjectionQuant(**p) for p in d["projections"]], list(d["warnings"]))


def to_plain(v: Any) -> Any:
    """``v`` as plain JSON data: numpy scalars as Python numbers, tuples as lists, inf/NaN as None."""
    if isinstance(v, dict):
        return {k: to_plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# ---------------------------------------------------------------------- fields of the target
@dataclass(frozen=True)
class _Fields:
    decay_unity: int        # 2**decay_bits
    decay_max: int          # largest du / dv
    vth_max: int            # largest threshold mantissa
    vth_shift: int
    act_shift: int
    v_max: int              # largest |v| (2**(voltage_bits-1) - 1)
    u_max: int              # largest |u| (2**(current_bits-1) - 1)
    bias_mant_max: int      # largest |bias mantissa|
    bias_exp_max: int
    w_lo: dict              # sign mode -> smallest mantissa
    w_hi: dict              # sign mode -> largest mantissa
    bits_min: int
    bits_max: int
    exp_min: int
    exp_max: int

    @classmethod
    def of(cls, t) -> "_Fields":
        """The fields of target ``t``, through :func:`neuromap.compiler.arithmetic.lif_arithmetic` (which refuses
        a target whose arithmetic the emulator does not implement): the emulator runs the same widths."""
        a = lif_arithmetic(t)
        b = t.synapse.weight_bits_max
        s = t.synapse
        return cls(a.decay_unity, a.decay_max, a.vth_max, a.threshold_shift, a.activation_shift, a.v_limit,
                   a.u_half - 1, a.bias_mant_max, a.bias_exp_max,
                   {"mixed": -(1 << b), "excitatory": 0, "inhibitory": -((1 << b) - 1)},
                   {"mixed": (1 << b) - 1, "excitatory": (1 << b) - 1, "inhibitory": 0},
                   s.weight_bits_min, b, s.weight_exp_min, s.weight_exp_max)

    def step(self, sign_mode: str, bits: int) -> int:
        """Mantissa granularity at ``bits`` (Lava truncate_weights drops 8 - bits (+1 mixed) LSBs)."""
        return 1 << (self.bits_max - bits + (sign_mode == "mixed"))

    @property
    def bias_max(self) -> int:
        return self.bias_mant_max << self.bias_exp_max


def refractory_limit(target) -> int:
    """Largest refractory period (steps) of the target's neuron, bounded by the image's 8-bit field."""
    return min(int(target.neuron.refractory_max), 255)


# ---------------------------------------------------------------------- decays
def decay_constant(dt: float, tau: float, unity: int = 4096) -> int:
    """``round(unity * (1 - exp(-dt/tau)))``: the effective decay per step in 1/unity units."""
    return int(round(unity * (1.0 - math.exp(-dt / tau))))


def _realized_tau(dt: float, keep: float) -> float:
    """Time constant (ms) of a per-step retention factor ``keep`` (0 -> 0: full decay in one step)."""
    if keep <= 0.0:
        return 0.0
    if keep >= 1.0:
        return math.inf
    return -dt / math.log(keep)


def _uniform(pop: Population, key: str, fld: str) -> float:
    x = np.asarray(pop.neuron[key], float)
    if x.ndim and x.size and np.ptp(x) != 0.0:
        raise TargetError(f"{fld}.{key}: varies across neurons ({x.min():g}..{x.max():g}); loihi_lif has one "
                          f"value per population (split the population)")
    return float(x.reshape(-1)[0]) if x.ndim else float(x)


def encode_bias(b: np.ndarray, f: _Fields) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron bias (hardware v units) -> (mantissa int16, exponent int8), smallest exponent that fits.

    Raises TargetError when |b| exceeds ``mant_max << exp_max``.
    """
    b = np.asarray(b, float)
    exp = np.full(b.shape, -1, np.int64)
    for e in range(f.bias_exp_max + 1):
        fits = (np.abs(np.rint(b / (1 << e))) <= f.bias_mant_max) & (exp < 0)
        exp[fits] = e
    if np.any(exp < 0):
        raise TargetError(f"bias {np.abs(b).max():.0f} (hw units) exceeds the bias field "
                          f"({f.bias_mant_max} << {f.bias_exp_max} = {f.bias_max})")
    mant = np.rint(b / (1 << exp))
    return mant.astype(np.int16), exp.astype(np.int8)


# ---------------------------------------------------------------------- weights
def narrow_integers(a: np.ndarray) -> np.ndarray:
    """Integer array ``a`` in the narrowest of int16, int32 and int64 that holds its values."""
    a = np.asarray(a)
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for dt in (np.int16, np.int32):
        if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return a.astype(dt)
    return a.astype(np.int64)


def quantize_weights(x: np.ndarray, f: _Fields, rounding: str = "nearest",
                     rng: np.random.Generator | None = None, sign_mode: str | None = None,
                     exp_floor: int | None = None) -> dict[str, Any]:
    """Choose the shared exponent and mantissas for target values ``x`` (input to u, hardware units).

    Contribution of mantissa m with exponent e: ``m * 2**(e + act_shift)``. Every exponent in
    [exp_min, exp_max] is tried with nearest rounding at the widest weight format; the one with
    the smallest sum of squared errors wins (ties: the larger exponent, i.e. smaller mantissas).
    ``exp_floor``: smallest exponent tried (a projection from a population quantized in groups: Lava runs one
    connection per group and would floor each partial sum under a negative exponent, ``backends/lava/plan.py``).
    Returns dict(mantissa int64, exp, bits, sign_mode, clipped, zeroed, unit): the realized input of a
    synapse is ``mantissa * unit``.
    """
    x = np.asarray(x, float)
    if sign_mode is None:
        sign_mode = "excitatory" if x.size == 0 or x.min() >= 0 else "inhibitory" if x.max() <= 0 else "mixed"
    step = f.step(sign_mode, f.bits_max)
    lo, hi = -((-f.w_lo[sign_mode]) // step) * step, (f.w_hi[sign_mode] // step) * step

    def mant(e: int, mode: str) -> tuple[np.ndarray, int, int, int]:
        """Mantissas at exponent e, how many were clipped, how many nonzero x became 0, the OR of all |m|."""
        if mode == "nearest":        # x / scale / step rounded, times step, clipped: one compiled pass
            return _nearest_mantissas(x, float(2.0 ** (e + f.act_shift)), float(step), float(lo), float(hi))
        m = x / float(2.0 ** (e + f.act_shift)) / step
        raw = np.floor(m + rng.random(m.shape)) * step
        m = np.clip(raw, lo, hi).astype(np.int64)
        return (m, int(np.count_nonzero((raw < lo) | (raw > hi))), int(np.sum((m == 0) & (x != 0))),
                int(np.bitwise_or.reduce(np.abs(m))) if m.size else 0)

    lowest = f.exp_min if exp_floor is None else min(max(f.exp_min, exp_floor), f.exp_max)
    exps = np.arange(f.exp_max, lowest - 1, -1, dtype=np.int64)
    approx = _squared_errors(x, 2.0 ** (exps + f.act_shift), float(step), float(lo), float(hi))
    exact: dict[int, float] = {}

    def err_of(i: int) -> float:        # the sum as numpy computes it (pairwise), for near ties only
        if i not in exact:           # np.sum of (m * scale - x) ** 2, the squares made in one compiled pass
            exact[i] = float(np.sum(_squared_residuals(x, float(2.0 ** (int(exps[i]) + f.act_shift)), float(step),
                                                       float(lo), float(hi))))
        return exact[i]

    best = 0
    for i in range(1, exps.size):
        a, b = approx[i], approx[best]
        thr = b * (1 - 1e-12) - 1e-300
        if abs(a - thr) <= 1e-9 * max(a, b) and max(a, b) > 0:     # too close to call: numpy's own sums
            a, thr = err_of(i), err_of(best) * (1 - 1e-12) - 1e-300
        if a < thr:
            best = i
    e = int(exps[best])
    m, clipped, zeroed, low = mant(e, rounding)
    # the fewest bits whose step (a power of two) divides every mantissa: the step may be as large as the
    # lowest set bit of all mantissas together (one OR over the array instead of a modulo per width)
    bits = f.bits_max
    for b in range(f.bits_min, f.bits_max + 1):
        if low % f.step(sign_mode, b) == 0:
            bits = b
            break
    return {"mantissa": m, "exp": e, "bits": bits, "sign_mode": sign_mode, "clipped": clipped,
            "zeroed": zeroed, "unit": 2.0 ** (e + f.act_shift)}


@numba.njit(cache=True)
def _nearest_mantissas(x, sc, step, lo, hi):  # pragma: no cover - compiled
    """``clip(rint(x / sc / step) * step, lo, hi)`` as int64, how many were clipped, how many nonzero x became
    0 and the OR of every |m|: numpy's element arithmetic of :func:`quantize_weights`'s nearest rounding,
    without its float64 temporaries."""
    out = np.empty(x.shape[0], np.int64)
    clipped = 0
    zeroed = 0
    low = 0
    for i in range(x.shape[0]):
        raw = np.rint(x[i] * (1.0 / sc) * (1.0 / step)) * step   # powers of two: = x / sc / step
        if raw < lo or raw > hi:
            clipped += 1
        m = np.int64(min(max(raw, lo), hi))
        out[i] = m
        if m == 0 and x[i] != 0:
            zeroed += 1
        low |= abs(m)
    return out, clipped, zeroed, low


@numba.njit(cache=True)
def _squared_residuals(x, sc, step, lo, hi):  # pragma: no cover - compiled
    """``(m * sc - x) ** 2`` per element, m the nearest mantissas (:func:`_nearest_mantissas`): the array whose
    ``np.sum`` decides near ties between exponents (the same floats as the numpy expression)."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        raw = np.rint(x[i] * (1.0 / sc) * (1.0 / step)) * step   # powers of two: = x / sc / step
        r = float(np.int64(min(max(raw, lo), hi))) * sc - x[i]
        out[i] = r * r
    return out


@numba.njit(cache=True)
def _squared_errors(x, scales, step, lo, hi):  # pragma: no cover - compiled
    """Per exponent (its scale ``2**(e + act_shift)``), the sum of squared errors of nearest-rounded,
    clipped mantissas -- the per-element arithmetic of :func:`quantize_weights`'s ``mant`` -- in one pass
    per exponent without temporaries; compensated (Neumaier) sums, within ~1e-15 of the exact sum. Here and in
    the two kernels above, ``sc`` and ``step`` are powers of two, so ``x * (1 / sc) * (1 / step)`` is
    ``x / sc / step`` bit for bit (each product and quotient is the same exact value, rounded once) at a
    fraction of a division's cost."""
    out = np.zeros(scales.shape[0])
    for j in range(scales.shape[0]):
        sc = scales[j]
        total = 0.0
        comp = 0.0
        for i in range(x.shape[0]):
            raw = np.rint(x[i] * (1.0 / sc) * (1.0 / step)) * step   # powers of two: = x / sc / step
            m = float(np.int64(min(max(raw, lo), hi)))
            r = m * sc - x[i]
            t = r * r
            y = total + t
            if abs(total) >= abs(t):
                comp += (total - y) + t
            else:
                comp += (t - y) + total
            total = y
        out[j] = total + comp
    return out


@numba.njit(cache=True)
def _input_bounds(post, w, sign, need, pos, neg):  # pragma: no cover - compiled
    """Per post neuron: the largest |w| (``np.maximum.at(need, post, |w|)``) and the sums of the positive and
    negative parts of ``sign * w`` (``np.add.at``, in synapse order: the same sums)."""
    for i in range(post.shape[0]):
        p = post[i]
        a = abs(w[i])
        if a > need[p]:
            need[p] = a
        v = sign * w[i]
        pos[p] += max(v, 0.0)
        neg[p] += max(-v, 0.0)


@numba.njit(cache=True)
def _relative_errors(m, unit, d, per_synapse, w):  # pragma: no cover - compiled
    """Of every nonzero float weight ``w[i]``: ``|m[i] * unit / d - w[i]| / |w[i]|`` (``d = sign * gain``, one
    value or one per synapse; the same floats as the numpy expression); and whether any of their mantissas is
    nonzero."""
    n = 0
    for i in range(w.shape[0]):
        if w[i] != 0:
            n += 1
    rel = np.empty(n)
    hit = False
    k = 0
    for i in range(w.shape[0]):
        if w[i] != 0:
            rel[k] = abs(m[i] * unit / d[i if per_synapse else 0] - w[i]) / abs(w[i])
            hit = hit or m[i] != 0
            k += 1
    return rel, hit


# ---------------------------------------------------------------------- the pass
@dataclass
class _PopPlan:
    s: Any              # voltage scale (per neuron when ``split``)
    p: Any              # float propagator from synaptic current to v (lif), 1 for if
    v_reset: Any
    split: bool = False  # neurons quantized in groups of equal du/dv/vth (:func:`uniform_groups`)


def _saturating_scale(network: Network, post: str, s_max: float, p: float, f: _Fields) -> float:
    """The voltage scale of ``post``: ``s_max``, or just below it the scale that puts ``w_max`` of the first
    projection into ``post`` whose learned upper bound is the stored field's saturation
    (:func:`~neuromap.compiler.quantize_learning.saturating_bound`: pair stdp with hard bounds on the Loihi
    engine) exactly on the largest stored weight at some weight exponent (costs at most a factor 2 of s)."""
    for pr in network.projections:
        wm = quantize_learning.saturating_bound(pr) if pr.post == post else None
        if wm is None:
            continue
        top = f.w_hi["excitatory"]
        for e in range(f.exp_max, f.exp_min - 1, -1):
            s = top * 2.0 ** (e + f.act_shift) / (p * wm)
            if s <= s_max:
                return s
        return s_max
    return s_max


def _neuron_constants(pop: Population, dt: float, fld: str) -> dict[str, float]:
    """Per-population float constants: a, b, p, theta' (threshold above reset), v_reset."""
    n = pop.neuron
    v_reset, v_th = _uniform(pop, "v_reset", fld), _uniform(pop, "v_th", fld)
    if pop.model == "lif":
        tm, ts = _uniform(pop, "tau_m", fld), _uniform(pop, "tau_syn", fld)
        a, b = math.exp(-dt / tm), math.exp(-dt / ts)
        p = (dt / tm) * a if ts == tm else ts / (ts - tm) * (b - a)
        drift = None
    else:
        tm = ts = None
        a, b, p = 1.0, 0.0, 1.0
        drift = (np.asarray(n["bias"], float) - np.asarray(n["leak"], float)) * dt
    theta = v_th - v_reset
    if not theta > 0:
        raise TargetError(f"{fld}: v_th ({v_th:g}) must be above v_reset ({v_reset:g}) for loihi_lif "
                          "(it resets to 0 and fires above a positive threshold)")
    return {"a": a, "b": b, "p": p, "theta": theta, "v_reset": v_reset, "tau_m": tm, "tau_syn": ts,
            "drift": drift}

#: float parameters a ``loihi_lif`` core holds once per neuron group (du, dv, vth; v resets to 0)
GROUP_KEYS = {"lif": ("tau_m", "tau_syn", "v_th", "v_reset"), "if": ("v_th", "v_reset")}


def uniform_groups(pop: Population, keys: tuple[str, ...] | None = None) -> list[np.ndarray]:
    """Population-local neuron indices of each group of equal :data:`GROUP_KEYS` values (or ``keys``;
    first-appearance order; one group when they are uniform). The quantize pass gives each group its own
    du/dv/vth and voltage scale: the population stays one population (results and probes keyed by it), the Lava
    backend runs one ``LIF`` process per group (``backends/lava/plan.py``)."""
    keys = GROUP_KEYS[pop.model] if keys is None else keys
    cols = [np.broadcast_to(np.asarray(pop.neuron[k], float), (pop.size,)) for k in keys]
    if pop.size == 0 or all(np.all(c == c[0]) for c in cols):
        return [np.arange(pop.size)]
    _, first, inv = np.unique(np.stack(cols, axis=1), axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    return [np.flatnonzero(inv == k) for k in np.argsort(first, kind="stable")]


def _part(pop: Population, idx: np.ndarray) -> Any:
    """The neurons ``idx`` of ``pop`` as a population-like view (per-neuron arrays sliced)."""
    import types
    cut = {k: (v[idx] if isinstance(v, np.ndarray) and v.ndim and v.size == pop.size else v)
           for k, v in pop.neuron.items()}
    return types.SimpleNamespace(name=pop.name, model=pop.model, size=int(idx.size), neuron=cut)


def _readout_bound(pop: Any, c: dict, keep_u: float, keep_v: float, in_max: np.ndarray | None,
                   f: "_Fields") -> float:
    """Largest |v - v_reset| (float units) a readout neuron can reach: its initial value, or the steady state of
    every source firing every step (u <= p in / (1 - keep_u)) plus the bias drift, over (1 - keep_v)."""
    if keep_v >= 1.0:
        raise TargetError(f"populations.{pop.name}: a non-spiking readout needs a leak (tau_m), or its voltage has "
                          "no bound a 24-bit register can hold")
    n = pop.neuron
    v0 = float(np.max(np.abs(np.asarray(n["v_init"], float) - c["v_reset"]), initial=0.0))
    drive = c["p"] * float(np.max(in_max, initial=0.0)) / max(1.0 - keep_u, 1.0 / f.decay_unity) \
        if in_max is not None else 0.0
    vinf = np.asarray(n["v_rest"], float) + np.asarray(n["bias"], float)
    drift = float(np.max(np.abs(vinf - c["v_reset"]), initial=0.0)) * (1.0 - keep_v)
    return v0 + (drive + drift) / (1.0 - keep_v) + drift


def _quantize_group(pop: Any, name: str, idx: np.ndarray | None, network: Network, target: Any, f: "_Fields",
                    dt: float, w_need: float, in_max: np.ndarray | None, v_headroom_bits: int,
                    fld: str) -> tuple[dict[str, Any], PopulationQuant]:
    """One group of neurons with equal du/dv/vth: (per-neuron integer fields and ``_p``, its report entry)."""
    c = _neuron_constants(pop, dt, fld)
    readout = pop.model == "lif" and float(np.min(np.asarray(pop.neuron["v_th"], float))) >= NEVER_FIRES
    # decays: u decays by (du + DU_OFFSET)/unity, v by dv/unity
    if pop.model == "lif":
        du = min(max(decay_constant(dt, c["tau_syn"], f.decay_unity) - DU_OFFSET, 0), f.decay_max)
        dv = min(decay_constant(dt, c["tau_m"], f.decay_unity), f.decay_max)
    else:
        du, dv = f.decay_max, 0        # u = this step's input only; v does not leak
    keep_u = (f.decay_unity - du - DU_OFFSET) / f.decay_unity
    keep_v = (f.decay_unity - dv) / f.decay_unity
    a_hw = keep_v
    # float bias per step in v' units (drift toward v_inf, or the if drift)
    n = pop.neuron
    if pop.model == "lif":
        vinf = np.asarray(n["v_rest"], float) + np.asarray(n["bias"], float)
        bias_f = np.broadcast_to((vinf - c["v_reset"]) * (1.0 - a_hw), (pop.size,)).astype(float)
        bias_exact = np.broadcast_to((vinf - c["v_reset"]) * (1.0 - c["a"]), (pop.size,))
    else:
        bias_f = np.broadcast_to(c["drift"], (pop.size,)).astype(float)
        bias_exact = bias_f
    # the voltage scale s: threshold as large as the fields allow, then limited by bias and weights
    t_cap = min(f.vth_max << f.vth_shift, 1 << (int(math.log2(f.v_max + 1)) - v_headroom_bits))
    if readout:   # no threshold: every reachable v stays below the largest one (the core never spikes)
        top = min(f.vth_max << f.vth_shift, f.v_max) - 1
        limits = {"voltage": top / max(1.05 * _readout_bound(pop, c, keep_u, keep_v, in_max, f), 1e-300)}
    else:
        limits = {"threshold": t_cap / c["theta"]}
    bmax = float(np.max(np.abs(bias_f))) if pop.size else 0.0
    if bmax > 0:
        limits["bias"] = f.bias_max / bmax
    if w_need > 0:
        limits["weight"] = f.w_hi["excitatory"] * 2.0 ** (f.exp_max + f.act_shift) / (c["p"] * w_need)
        # u accumulates to in / (1 - keep_u) when every source fires every step: keep that inside the
        # current register (it wraps, unlike v which saturates)
        u_worst = c["p"] * float(in_max.max()) / max(1.0 - keep_u, 1.0 / f.decay_unity)
        if u_worst > 0:
            limits["current"] = f.u_max / u_worst
    bound = min(limits, key=lambda k: limits[k])
    if readout:
        s, vth = min(limits[bound], float(f.v_max)), f.vth_max
    else:
        s_try = _saturating_scale(network, name, limits[bound], c["p"], f)
        vth = int(math.floor(s_try * c["theta"] / (1 << f.vth_shift)))
        if vth < 1:
            raise TargetError(f"{fld}: the {bound} field leaves no room for the threshold "
                              f"(scale {limits[bound]:.3g} hw units per v unit gives vth < 1)")
        s = vth * (1 << f.vth_shift) / c["theta"]
    mant, bexp = encode_bias(s * bias_f, f)
    b_real = mant.astype(float) * (1 << bexp.astype(np.int64))
    nz = bias_exact != 0
    bias_err = float(np.max(np.abs(b_real[nz] / s - bias_exact[nz]) / np.abs(bias_exact[nz]))) if nz.any() else 0.0
    v0 = np.rint(s * (np.broadcast_to(np.asarray(n["v_init"], float), (pop.size,)) - c["v_reset"]))
    v0 = np.clip(v0, -f.v_max, f.v_max).astype(np.int64)
    # refractory steps carry over exactly (v held at v_reset = 0), capped at the target's maximum
    refr_f = np.broadcast_to(np.asarray(n.get("refractory", 0), np.int64), (pop.size,))
    refr_hw = np.minimum(refr_f, refractory_limit(target))
    refr = int(np.max(refr_f - refr_hw)) if pop.size else 0
    lif = pop.model == "lif"
    q = PopulationQuant(
        name=name, model=pop.model, size=pop.size, v_scale=s, vth=vth, bound_by=bound,
        threshold_rel_error=0.0 if readout else 1.0 / (vth * (1 << f.vth_shift)), du=du, dv=dv,
        tau_syn=c["tau_syn"], tau_syn_hw=_realized_tau(dt, keep_u) if lif else None,
        decay_u_rel_error=abs((1 - keep_u) - (1 - c["b"])) / (1 - c["b"]) if lif else 0.0,
        tau_m=c["tau_m"], tau_m_hw=_realized_tau(dt, keep_v) if lif else None,
        decay_v_rel_error=abs((1 - keep_v) - (1 - c["a"])) / (1 - c["a"]) if lif else 0.0,
        bias_max_rel_error=bias_err, refractory_dropped=refr,
        neurons=None if idx is None else [int(i) for i in idx], readout=readout, v_reset=c["v_reset"])
    return {"du": du, "dv": dv, "vth": vth, "bias_mant": mant.astype(np.int64), "bias_exp": bexp.astype(np.int64),
            "v": v0, "refractory": refr_hw, "_p": c["p"]}, q


def quantize_network(network: Network, target: Any, rounding: str = "nearest", seed: int | None = None,
                     v_headroom_bits: int = 1) -> tuple[Network, QuantizationReport]:
    """Float ``lif``/``if`` network -> ``loihi_lif`` network in hardware units, and what was lost.

    ``rounding``: ``nearest`` or ``stochastic`` (weights only; generator
    ``default_rng([seed, 0x9a])``, seed default ``network.seed``). ``v_headroom_bits``: the
    threshold is placed at most at ``2**(voltage_bits - 1 - v_headroom_bits)`` so v can swing
    above/below it before saturating. Inputs (poisson, spike_source) are copied unchanged;
    populations already in hardware units and their projections too. Plastic projections whose
    rule has an integer engine (:mod:`neuromap.compiler.quantize_learning`) carry it in
    ``hw["learning"]`` / ``hw["learning_arrays"]``; other plastic projections are frozen at their
    initial weights (a warning says so).
    """
    if rounding not in ROUNDING:
        raise TargetError(f"rounding: {rounding!r} is not a rounding mode (use nearest or stochastic)")
    f = _Fields.of(target)
    seed = network.seed if seed is None else int(seed)
    rng = np.random.default_rng([seed, 0x9A])
    where = f"{network.source}: " if network.source else ""
    rep = QuantizationReport(target.name, rounding, seed)
    hw = Network(name=network.name, dt=network.dt, seed=network.seed)
    hw.source = network.source
    dt = network.dt
    plans: dict[str, _PopPlan] = {}

    # largest |input to u| per unit scale s, per post neuron (weights must fit at exp_max), and the
    # largest input one neuron can get in one step if every source fires (per sign; u must not wrap)
    w_need: dict[str, np.ndarray] = {}
    in_max: dict[str, np.ndarray] = {}
    for pr in network.projections:
        post = network.populations[pr.post]
        if post.model in FLOAT_MODELS and pr.n_synapses:
            w_reach = quantize_learning.reachable_weights(pr)      # plastic: as large as the rule lets them grow
            acc = in_max.setdefault(pr.post, np.zeros((2, post.size)))
            _input_bounds(np.asarray(pr.post_idx), np.asarray(w_reach, float), -1.0 if pr.target == ("inh",) else 1.0,
                          w_need.setdefault(pr.post, np.zeros(post.size)), acc[0], acc[1])

    for name, pop in network.populations.items():
        fld = f"{where}populations.{name}"
        if pop.model == quantize_compartments.MODEL:     # soma + dendrite: two joined compartments
            plans[name], entries, warn = quantize_compartments.quantize_population(network, hw, name, pop, f, fld,
                                                                                 PopulationQuant)
            rep.populations.extend(entries)
            rep.warnings.extend(warn)
            continue
        if pop.model not in FLOAT_MODELS:
            if pop.model not in INPUT_MODELS + ("loihi_lif",):
                raise TargetError(f"{fld}.neuron.model: {pop.model!r} cannot be quantized for {target.name!r} "
                                  "(run the compatibility check first)")
            hw.populations[name] = pop
            continue
        groups = uniform_groups(pop)
        cols: dict[str, np.ndarray] = {}
        s_n, p_n, vr_n = np.zeros(pop.size), np.zeros(pop.size), np.zeros(pop.size)
        for idx in groups:
            part = pop if len(groups) == 1 else _part(pop, idx)
            g_need = float(np.max(w_need[name][idx], initial=0.0)) if name in w_need else 0.0
            g_in = in_max[name][:, idx] if name in in_max else None
            fields, q = _quantize_group(part, name, idx if len(groups) > 1 else None, network, target, f, dt,
                                        g_need, g_in, v_headroom_bits, fld)
            for k, v in fields.items():
                if k != "_p":
                        cols.setdefault(k, np.zeros(pop.size, np.int64))[idx] = v
            s_n[idx], p_n[idx], vr_n[idx] = q.v_scale, fields["_p"], q.v_reset
            if q.refractory_dropped:
                rep.warnings.append(f"populations.{name}.refractory: shortened by up to {q.refractory_dropped} "
                                    f"steps (the target allows {refractory_limit(target)})")
            rep.populations.append(q)
        one = lambda a: a[0] if a.size and np.all(a == a[0]) else a  # noqa: E731  (one value per population)
        hw.add_population(name, pop.size, "loihi_lif", du=one(cols["du"]), dv=one(cols["dv"]), vth=one(cols["vth"]),
                          bias_mant=cols["bias_mant"], bias_exp=cols["bias_exp"], u=0, v=cols["v"],
                          refractory=cols["refractory"])
        plans[name] = _PopPlan(float(s_n[0]), float(p_n[0]), float(vr_n[0])) if len(groups) == 1 else \
            _PopPlan(s_n, p_n, vr_n, split=True)

    for k, pr in enumerate(network.projections):
        fld = f"{where}projections[{k}] ({pr.name})"
        if pr.post not in plans:
            hw.projections.append(pr)
            continue
        pl = plans[pr.post]
        sign = -1.0 if pr.target == ("inh",) else 1.0
        post_hw = pr.post
        if isinstance(pl, quantize_compartments.CompartmentPlan):   # the target names the compartment and its gain
            post_hw, gain_c, sign = quantize_compartments.target_of(pl, pr.target, fld)
            pl = _PopPlan(pl.s if post_hw == pl.soma else pl.s_d, gain_c / (pl.s if post_hw == pl.soma else pl.s_d),
                          0.0)
        rule = pr.plasticity["rule"] if pr.plasticity else None
        if pl.split and rule:
            raise TargetError(f"{fld}.plasticity: {rule} onto {pr.post!r}, whose neurons need different "
                              "du/dv/vth (per-neuron tau_m, tau_syn, v_th or v_reset): a plastic projection needs "
                              "one voltage scale (give its post population uniform values, or freeze it)")
        gain = pl.s * pl.p if not pl.split else (pl.s * pl.p)[pr.post_idx]
        x = sign * gain * pr.weight
        if rule == "urbanczik_senn" and isinstance(plans[pr.post], quantize_compartments.CompartmentPlan):
            plastic = quantize_compartments.quantize_urbanczik(pr, x, plans[pr.post], network.populations[pr.post], f,
                                                               seed, fld)
        else:
            plastic = rule and quantize_learning.quantize_plastic(pr, x, pl.s * pl.p, sign, f, rounding, rng, dt,
                                                                  fld, post=pl)
        pre_split = pr.pre in plans and plans[pr.pre].split
        q = plastic[0] if plastic else quantize_weights(x, f, rounding, rng, exp_floor=0 if pre_split else None)
        d = np.asarray(sign * gain, float).reshape(-1)
        rel, hit = _relative_errors(q["mantissa"], float(q["unit"]), d, d.size > 1, np.asarray(pr.weight))
        if rel.size and not hit:
            raise TargetError(f"{fld}.weight: all {rel.size} nonzero weights round to 0 "
                              f"(largest |w| {np.abs(pr.weight).max():g} -> {np.abs(x).max():.3g} hw units; "
                              f"smallest representable {2.0 ** (f.exp_min + f.act_shift):g}); "
                              "raise the weights or lower v_th - v_reset")
        if rule and not plastic:
            rep.warnings.append(f"projections[{k}] ({pr.name}).plasticity: {rule} frozen at the initial weights "
                                "(no integer learning engine for this rule)")
        hw_opts = {"weight_exp": q["exp"], "num_weight_bits": q["bits"], "sign_mode": q["sign_mode"]}
        if plastic:
            hw_opts.update(learning=plastic[1], learning_arrays=plastic[2])
            if rule in quantize_learning.CONTROLLED:    # an embedded-core controller sets the rule's parameters
                hw_opts["controller"], plastic[3]["controller"] = quantize_learning.CONTROLLED[rule](
                    pr, network.populations[pr.post].size, plastic[3]["weight_scale"], fld)
        if pr.spec.get("geometry") is not None:     # a convolution: lower stores kernel + geometry
            hw_opts["conv"] = pr.spec["geometry"].to_dict()
        # the connectivity is the float projection's (shared, read-only by convention): no copy per synapse
        # the mantissas as integers in the narrowest dtype that holds them (int16 for every Loihi weight format:
        # 2 bytes per synapse, not a float64 copy of integers)
        hw.projections.append(Projection(pr.name, pr.pre, post_hw, pr.pre_idx, pr.post_idx,
                                         narrow_integers(q["mantissa"]), pr.delay, ("exc",), None,
                                         hw_opts, {}))
        rep.projections.append(ProjectionQuant(
            name=pr.name, pre=pr.pre, post=post_hw, n_synapses=pr.n_synapses,
            scale=sign * pl.s * pl.p / 2.0 ** (q["exp"] + f.act_shift) if not pl.split else math.nan,
            weight_exp=q["exp"],
            effective_bits=q["bits"], sign_mode=q["sign_mode"],
            rms_rel_error=float(np.sqrt(np.mean(rel ** 2))) if rel.size else 0.0,
            max_rel_error=float(rel.max()) if rel.size else 0.0, clipped=q["clipped"], zeroed=q["zeroed"],
            plasticity=rule, learning=plastic[3] if plastic else None))

    probed_v = {pb.population for pb in network.probes if "v" in pb.variables}
    for q in rep.populations:   # a readout is read through its voltage: probe it when the network did not
        if q.readout and q.name not in probed_v:
            hw.probes.append(Probe(q.name, ("v",), None))
            probed_v.add(q.name)
    for pb in network.probes:
        pop = network.populations[pb.population]
        if isinstance(plans.get(pb.population), quantize_compartments.CompartmentPlan):
            chip, dropped = quantize_compartments.probes(pb, plans[pb.population])
            hw.probes.extend(chip)
            rep.warnings.extend(dropped)
        elif pop.model in FLOAT_MODELS:
            names = {"v": "v", "I": "u"}
            var = tuple(dict.fromkeys(names.get(v, v) for v in pb.variables))
            hw.probes.append(Probe(pb.population, var, pb.neurons))
        else:
            hw.probes.append(pb)
    return hw, rep


# ---------------------------------------------------------------------- compiler pass (neuromap.compiler.pipeline)
def quantize_pass(st):
    """Pass ``quantize`` (Loihi-style targets): float populations -> loihi_lif; the report goes to
    ``reports.quantization`` and the hardware-unit network to ``quantized_network`` too.

    Options: ``rounding`` (nearest | stochastic), ``quant_seed``, ``v_headroom_bits``,
    ``allow_reset_approximation`` (:mod:`neuromap.compiler.reset`). A network already in hardware
    units passes through unchanged."""
    if not any(p.model in FLOAT_MODELS + (quantize_compartments.MODEL,) for p in st.network.populations.values()):
        return st
    o = st.options
    approx = check_reset(st.network, st.target.name, bool(o.allow_reset_approximation))
    hw, rep = quantize_network(st.network, st.target, rounding=o.rounding, seed=o.quant_seed,
                               v_headroom_bits=o.v_headroom_bits)
    return dataclasses.replace(st, network=hw, quantized_network=hw,
                               reports=dataclasses.replace(st.reports, quantization=rep,
                                                           reset_approximated=approx or None))


def verify_quantized(st) -> None:
    """Every neuron population is loihi_lif; every weight the quantizer produced is an integer inside its
    projection's format. (Projections the user gave in hardware units keep their weights: like Lava, the
    encoder clips and truncates them, and ``check_hw_units`` reports it.)"""
    f = _Fields.of(st.target)
    for name, pop in st.network.populations.items():
        if pop.model not in INPUT_MODELS + ("loihi_lif",):
            raise TargetError(f"quantize left population {name!r} as {pop.model!r}")
    q = st.reports.quantization
    made = {p.name for p in q.projections} if q is not None else set()
    for pr in st.network.projections:
        if pr.hw is None or (pr.name in made and pr.n_synapses and (np.any(pr.weight != np.rint(pr.weight))
                                                or pr.weight.min() < f.w_lo[pr.hw["sign_mode"]]
                                                or pr.weight.max() > f.w_hi[pr.hw["sign_mode"]])):
            raise TargetError(f"quantize left projection {pr.name!r} with weights outside its hardware format")
