"""TrueNorth quantization: a float ``if``/``lif`` network -> a network of ``truenorth`` neurons in hardware units.

The result is an ordinary :class:`~neuromap.network.Network` whose neuron populations have
``model: truenorth`` (the paper's parameter names, ``neuromap/neurons/truenorth.py``) and whose
projections carry integer weights -255..255 (the sign folded in: ``inh`` projections negative).
Networks already in TrueNorth units pass through (weights checked). Derivation: ``docs/truenorth.md``
(*Compiling float networks*). Per population a voltage scale ``s`` (hardware units per float
voltage unit) maps ``v' = v - v_reset`` onto V (so the reset potential is R = 0):

* ``if``: ``V <- V + sum w + lambda``: weights ``round(s w)``, leak ``lambda = round(s (bias - leak) dt)``,
  threshold ``alpha = round(s (v_th - v_reset))``, reset to R = 0 (gamma 0), no leak reversal; the
  float neuron has no lower bound, so ``kappa = 1`` with ``beta = 2**18 - 1`` (V saturates at -beta).
* ``lif`` with ``exp(-dt/tau_m) <= 2**-9`` (*memoryless*: v forgets its past within a step, e.g. the
  seed-000 pool neuron): ``v'_t = p J_t + c`` (p: the current-to-voltage propagator of
  ``neuromap/neurons/lif.py``, c: the drift ``(v_inf - v_reset)(1 - a)``), so the neuron fires iff
  ``s p sum w + s c >= s theta``. TrueNorth forgets with a negative leak and a floor at 0:
  ``alpha = 1``, ``lambda = round(s c) - (T - 1)`` with ``T = round(s theta) <= 256``, ``beta = 0``,
  ``kappa = 1`` (V < 0 -> 0), reset to 0: V is 0 after every tick and the neuron fires iff
  ``sum w_hw + round(s c) >= T``. Weights ``round(s p w)`` (the current's tail ``b J`` is dropped).
* other ``lif``: the exponential decay becomes TrueNorth's leak reversal (epsilon = 1, lambda < 0:
  V moves |lambda| toward 0 per tick) with ``|lambda| = round((1 - a) T LEAK_AT)`` (the decay rate at
  ``V = LEAK_AT`` x threshold; ``LEAK_AT = 0.75``, see docs/accuracy.md), and a synaptic current's whole charge ``p /
  (1 - b)`` arrives in the spike's tick:
  weights ``round(s p w / (1 - b))``. A drift ``c = v_inf (1 - a)`` toward ``v_inf = v_rest + bias - v_reset
  != 0`` uses an *always-on axon*, as TrueNorth corelets drive a bias: a neuron of population
  ``ALWAYS_ON`` (lambda = +1, alpha = 1: it fires every tick) per core of the population, each feeding one
  axon of that core with weight B (one axon type, delay 1; the initial V is raised by B because the
  first always-on spike arrives at tick 1, so tick 0 integrates exactly as if it had):

  - ``v_inf >= theta`` (the bias alone fires): ``B = round(s c)`` (|B| <= 255 bounds s) and |lambda| such
    that ``k (B - |lambda|)`` first reaches T after exactly the float's period under the bias alone
    (``v_inf (1 - a**k) >= theta``), so a bias-driven neuron fires at the float rate;
  - ``v_inf < theta``: V = 0 stands for the equilibrium (leak reversal converges to it), so the
    threshold is ``alpha = round(s (theta - v_inf))`` and the reset ``R = -round(s v_inf)`` (|R| < 2**17
    bounds s). V then falls ``|lambda| - B`` per tick above 0 (the default decay, LEAK_AT x alpha) and rises
    ``|lambda| + B`` below it (the float's mean speed of recovery from the reset to alpha under the
    equilibrium): :func:`_split_leak`.

Reset: ``reset: zero`` (v <- v_reset) is TrueNorth's reset mode gamma = 0 (set to R = 0), exact. An ``if``
population with ``reset: subtract`` (v <- v - (v_th - v_reset)) uses the linear reset gamma = 1
(V <- V - alpha), exact; a ``lif`` with ``reset: subtract`` is refused unless the compile option
``allow_reset_approximation`` (:mod:`neuromap.compiler.reset`). No reset (gamma = 2) is not used.

Per-neuron parameters: TrueNorth holds every neuron parameter per neuron, so a population whose ``v_th``,
``v_reset``, ``tau_m``, ``tau_syn``, ``v_rest``, ``bias`` or ``leak`` vary is quantized group by group
(:func:`tn_groups`: neurons of equal values), each group with its own voltage scale, alpha, lambda, R and
always-on weight, invisibly: the population, its probes and results stay one (the report has one entry per group,
``neurons`` its indices); weights into it are scaled per post neuron. The groups must agree on the mode's
population-wide flags (leak reversal ``epsilon``, ``kappa``): a population mixing memoryless and leak-reversal
``tau_m`` is refused in one line. A non-spiking readout (``v_th`` never reached: NIR ``LI``/``CubaLI``) is
refused in one line: a TrueNorth core sends spikes only and has no membrane voltage to read out.

``s`` is the largest scale at which every weight fits 9 bits (|w_hw| <= 255), the leak fits
(|lambda| <= 255) and the threshold fits (18 bits; 256 in memoryless mode). ``refractory`` is
dropped (TrueNorth has none; warning). Plastic projections are frozen at their current weights
(warning): TrueNorth has no on-chip learning.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap.compiler.quantize import to_plain, uniform_groups
from neuromap.errors import TargetError
from neuromap.network import Network, Population, Projection
from neuromap.neurons import neuron_module
from neuromap.neurons.lif import NEVER_FIRES

W_MAX = 255                 # |s_j^G|, |lambda|: sign + 8 bit
ALPHA_MAX = 2 ** 18 - 1     # alpha, beta: unsigned 18 bit
R_MAX = 2 ** 17 - 1         # |R|: signed 18 bit
MEMORYLESS_A = 2.0 ** -9    # lif with a = exp(-dt/tau_m) at most this forgets within one tick
FLOAT_MODELS = ("if", "lif")
LEAK_AT = 0.75              # leak reversal matches the exponential decay rate at V = LEAK_AT * threshold
INPUT_MODELS = ("poisson", "spike_source")
#: population of always-on neurons (fire every tick) whose axons carry the drift of leak-reversal lif neurons
ALWAYS_ON = "_tn_always_on"
BIAS_PREFIX = "_tn_bias:"     # + population name: the projection from its always-on neurons
ALWAYS_ON_PARAMS = {"model": "truenorth", "lambda": 1, "c_lambda": False, "epsilon": False, "alpha": 1, "beta": 0,
                    "TM": 0, "gamma": 0, "kappa": True, "R": 0, "b": False, "v_init": 0}


@dataclass
class TNPopulationQuant:
    """One population: ``mode`` (if | lif-memoryless | lif-leak-reversal | truenorth), voltage scale
    ``v_scale`` (hw per float v), alpha, lambda, the threshold actually realized in float units and its
    relative error, and the drift (v/step) realized vs wanted."""

    name: str
    size: int
    mode: str
    v_scale: float
    alpha: int
    lam: int
    threshold_rel_error: float
    drift_float: float
    drift_realized: float
    bound_by: str
    refractory_dropped: int = 0     # steps of refractory period dropped (TrueNorth has none)
    bias_axon_weight: int = 0       # hw weight of the always-on axon carrying the drift (0: none)
    v_origin: float = 0.0           # float v - v_reset that V = 0 stands for (a subthreshold lif's equilibrium)
    R: int = 0                      # reset potential (hw units; -s v_origin)
    neurons: list | None = None     # population-local neuron indices of this group (None: the whole population)


@dataclass
class TNProjectionQuant:
    """One projection: ``scale`` (hw weight per float weight), errors over nonzero synapses of the
    rounded 9-bit weights (before crossbar legalization), clipped/zeroed counts."""

    name: str
    pre: str
    post: str
    n_synapses: int
    scale: float
    rms_rel_error: float
    max_rel_error: float
    clipped: int
    zeroed: int
    plasticity: str | None = None


@dataclass
class TNQuantReport:
    target: str
    populations: list[TNPopulationQuant] = field(default_factory=list)
    projections: list[TNProjectionQuant] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TNQuantReport":
        return cls(d["target"], [TNPopulationQuant(**p) for p in d["populations"]],
                   [TNProjectionQuant(**p) for p in d["projections"]], list(d["warnings"]))


def _uniform(pop: Population, key: str, fld: str) -> float:
    x = np.asarray(pop.neuron[key], float)
    if x.ndim and x.size and np.ptp(x) != 0.0:
        raise TargetError(f"{fld}.{key}: varies across neurons ({x.min():g}..{x.max():g}); the TrueNorth mapping "
                          f"uses one value per population (split the population)")
    return float(x.reshape(-1)[0])


def _plan(pop: Population, dt: float, fld: str) -> dict[str, Any]:
    """Float constants of a population: mode, weight gain (float weight -> voltage jump), theta, drift/step."""
    n = pop.neuron
    v_reset, v_th = _uniform(pop, "v_reset", fld), _uniform(pop, "v_th", fld)
    theta = v_th - v_reset
    if not theta > 0:
        raise TargetError(f"{fld}.v_th: {v_th:g} must be above v_reset ({v_reset:g}) on truenorth "
                          "(V resets to R = 0 below a positive threshold)")
    v0 = np.broadcast_to(np.asarray(n["v_init"], float), (pop.size,)) - v_reset
    if pop.model == "if":
        drift = (_uniform(pop, "bias", fld) - _uniform(pop, "leak", fld)) * dt
        return {"mode": "if", "gain": 1.0, "theta": theta, "drift": drift, "a": 1.0, "v0": v0}
    tm, ts = _uniform(pop, "tau_m", fld), _uniform(pop, "tau_syn", fld)
    a, b = math.exp(-dt / tm), math.exp(-dt / ts)
    p = (dt / tm) * a if ts == tm else ts / (ts - tm) * (b - a)
    c = (_uniform(pop, "v_rest", fld) + _uniform(pop, "bias", fld) - v_reset) * (1.0 - a)
    if a <= MEMORYLESS_A:
        return {"mode": "lif-memoryless", "gain": p, "theta": theta, "drift": c, "a": a, "v0": v0 * 0}
    plan = {"mode": "lif-leak-reversal", "gain": p / (1.0 - b), "theta": theta, "drift": 0.0, "a": a, "v0": v0,
            "origin": 0.0, "c": c}
    if abs(c) <= 1e-12 * theta:
        return plan
    v_inf = c / (1.0 - a)             # the equilibrium, relative to v_reset
    if v_inf < theta:                 # below threshold: V = 0 is the equilibrium, reset to R = -s v_inf
        return {**plan, "origin": v_inf, "theta": theta - v_inf, "v0": v0 - v_inf}
    # above threshold: the drift arrives through an always-on axon; lambda is matched to the float period
    return {**plan, "drift": c, "period": _drift_period(a, v_inf, theta)}


def _drift_period(a: float, v_inf: float, theta: float) -> int:
    """Steps from v' = 0 to the first ``v'_k = v_inf (1 - a**k) >= theta`` (``v_inf >= theta``): the float
    neuron's firing period under its drift alone."""
    if v_inf <= theta:
        return 2 ** 31
    k = max(1, int(math.ceil(math.log1p(-theta / v_inf) / math.log(a))))
    while k > 1 and v_inf * (1.0 - a ** (k - 1)) >= theta:    # guard the floating-point logarithms
        k -= 1
    while v_inf * (1.0 - a ** k) < theta:
        k += 1
    return k


def _matched_leak(B: int, T: int, period: int) -> int | None:
    """|lambda| in 1..255 such that a neuron gaining ``B - |lambda|`` per tick from 0 first reaches ``T`` after
    exactly ``period`` ticks (``ceil(T / (B - |lambda|)) == period``); None if no such |lambda| exists."""
    D = -(-T // period)
    if D * (period - 1) >= T and period > 1:
        return None
    lam = B - D
    return lam if 1 <= lam <= W_MAX else None


def _split_leak(pl: dict, s: float, T: int, down: int) -> tuple[int, int]:
    """(lambda, always-on weight B) of a subthreshold leak-reversal lif whose V = 0 is its equilibrium.

    Leak reversal moves V toward 0 by |lambda| per tick and the always-on axon adds B, so V falls by
    ``|lambda| - B`` above the equilibrium and rises by ``|lambda| + B`` below it. Above: the default decay
    ``down`` (LEAK_AT x the threshold distance). Below: the float neuron's mean recovery speed from the reset
    ``|R| = s v_inf`` to the threshold distance ``T`` under it, ``(|R| - T) / (tau_m/dt ln(|R| / T))``
    (when |R| > T; else no always-on axon). Both within 9 bits."""
    R = abs(s * pl["origin"])
    if R <= T:
        return -down, 0
    up = (R - T) / (math.log(R / T) / -math.log(pl["a"]))
    lam = min(W_MAX, int(round((up + down) / 2)))
    B = max(0, min(W_MAX, lam - down))
    return -lam, B


def _memoryless_scale(w: np.ndarray, theta: float, s_max: float) -> float:
    """Scale ``T / theta`` (threshold exact) with integer ``T`` in ``[ceil(T_max / 2), T_max]``,
    ``T_max = floor(s_max theta)``, minimizing the summed squared relative rounding error of the distinct
    weights ``w`` (ties: the larger T). Keeps counting thresholds exact, e.g. 15 coincident spikes."""
    w = np.unique(w)[:1000]
    t_max = max(1, int(math.floor(s_max * theta + 1e-9)))
    best = None
    for T in range(t_max, (t_max + 1) // 2 - 1, -1):
        x = w * (T / theta)
        err = float(np.sum(((np.rint(x) - x) / x) ** 2))
        if best is None or err < best[0] - 1e-12:
            best = (err, T)
    return best[1] / theta


def _signed(pr, post_model: str) -> np.ndarray:
    targets = getattr(neuron_module(post_model), "TARGETS", None) or {"exc": (0, 1.0)}
    sign = sum(targets[t][1] for t in pr.target)
    return np.asarray(pr.weight, float) * sign


def _add_always_on(hw: Network, bias_axons: dict[str, np.ndarray], cap: int, where: str) -> None:
    """Drive each biased population through always-on axons: population ``ALWAYS_ON`` holds one neuron per core
    of each biased population (``lambda = +1``, ``alpha = 1``, reset to 0: it fires every tick from tick 0),
    and projection ``BIAS_PREFIX + <pop>`` connects always-on neuron ``k`` with weight ``B`` (per neuron, delay 1;
    none where it is 0) to the neurons ``tn_place`` puts on that population's ``k``-th core (``cap`` per core, in
    order), so every always-on neuron drives a single axon (no splitter)."""
    if not bias_axons:
        return
    if ALWAYS_ON in hw.populations:
        raise TargetError(f"{where}populations.{ALWAYS_ON}: the name is reserved for TrueNorth's always-on bias "
                          "neurons (rename the population)")
    pre_start, projs = 0, []
    for name, B in bias_axons.items():
        size = hw.populations[name].size
        post = np.flatnonzero(B).astype(np.int64)
        w = B[post].astype(float)
        mode = "excitatory" if w.min() > 0 else "inhibitory" if w.max() < 0 else "mixed"
        projs.append(Projection(f"{BIAS_PREFIX}{name}", ALWAYS_ON, name, pre_start + post // cap, post, w,
                                np.ones(post.size, np.int64), ("exc",), None,
                                {"weight_exp": 0, "num_weight_bits": 8, "sign_mode": mode}))
        pre_start += -(-size // cap)
    hw.populations[ALWAYS_ON] = Population(ALWAYS_ON, pre_start, dict(ALWAYS_ON_PARAMS))
    hw.projections.extend(projs)


#: float parameters that give a neuron its own TrueNorth parameters (one group per distinct combination)
TN_GROUP_KEYS = {"lif": ("tau_m", "tau_syn", "v_th", "v_reset", "v_rest", "bias"),
                 "if": ("v_th", "v_reset", "bias", "leak")}
#: truenorth parameters neuromap's model holds once per population
POPULATION_FLAGS = ("c_lambda", "epsilon", "TM", "b", "kappa")


def tn_groups(pop: Population) -> list[np.ndarray]:
    """Population-local indices of each group of neurons with equal :data:`TN_GROUP_KEYS` values
    (first-appearance order; one group when they are uniform)."""
    return uniform_groups(pop, TN_GROUP_KEYS[pop.model])


def _group_view(pop: Population, idx: np.ndarray) -> Population:
    """The neurons ``idx`` of ``pop`` as a population of their own (per-neuron arrays sliced)."""
    cut = {k: (v[idx] if isinstance(v, np.ndarray) and v.ndim and v.size == pop.size else v)
           for k, v in pop.neuron.items()}
    return Population(pop.name, int(idx.size), cut)


def _check_readout(pop: Population, fld: str) -> None:
    if pop.model == "lif" and float(np.min(np.asarray(pop.neuron["v_th"], float))) >= NEVER_FIRES:
        raise TargetError(f"{fld}.neuron.v_th: {pop.name!r} is a non-spiking readout (threshold never reached, "
                          "e.g. a NIR LI/CubaLI layer); a TrueNorth core sends spikes only and has no membrane "
                          "voltage to read out: compile for loihi (probed-voltage readout cores) or make the layer "
                          "spiking (a threshold; NIR LIF/CubaLIF) and read its spike counts")


def _group_params(pop: Population, pl: dict, gain_in: float, w_eff: np.ndarray | None, rep: TNQuantReport,
                  name: str, idx: np.ndarray | None) -> tuple[dict[str, Any], int]:
    """TrueNorth parameters of one group of ``pop`` (its plan ``pl``; ``idx`` its neurons, None: all) and the
    weight of its always-on axon (0: none); appends the group's report entry and sets ``pl["s"]``."""
    bounds = {"threshold": (256.0 if pl["mode"] == "lif-memoryless" else ALPHA_MAX) / pl["theta"]}
    if pl.get("origin"):
        bounds["reset"] = R_MAX / abs(pl["origin"])      # R = -s v_inf: signed 18 bit
    if gain_in > 0:
        bounds["weights"] = W_MAX / gain_in
    if pl["drift"] != 0.0:
        bounds["leak"] = W_MAX / abs(pl["drift"])
    if pl["mode"] == "lif-leak-reversal":   # |lambda| = (1 - a) T LEAK_AT <= 255; bias weight s c <= 255
        bounds["leak"] = W_MAX / (LEAK_AT * (1.0 - pl["a"]) * pl["theta"])
        if pl["drift"] != 0.0:
            bounds["bias"] = W_MAX / abs(pl["drift"])
    bound_by = min(bounds, key=bounds.get)
    s = bounds[bound_by]
    if pl["mode"] == "lif-memoryless" and w_eff is not None:
        s = _memoryless_scale(w_eff, pl["theta"], s)
    pl["s"] = s
    T = max(1, int(round(s * pl["theta"])))
    params = {"model": "truenorth", "c_lambda": False, "TM": 0, "b": False, "gamma": 0,
              "R": -int(round(s * pl.get("origin", 0.0)))}
    bias_hw = 0
    if pl["mode"] == "if":
        lam = int(round(s * pl["drift"]))
        params.update({"lambda": lam, "epsilon": False, "alpha": T, "beta": ALPHA_MAX, "kappa": True})
        if pop.neuron.get("reset", "zero") == "subtract":   # linear reset V - alpha: exact
            params["gamma"] = 1
        drift_real = lam / s
    elif pl["mode"] == "lif-memoryless":
        c_hw = int(round(s * pl["drift"]))
        lam = max(-W_MAX, min(W_MAX, c_hw - (T - 1)))
        params.update({"lambda": lam, "epsilon": False, "alpha": 1, "beta": 0, "kappa": True})
        drift_real = c_hw / s
    else:
        lam = -max(1, int(round((1.0 - pl["a"]) * T * LEAK_AT)))
        if lam < -W_MAX:
            rep.warnings.append(f"{name}: leak reversal {lam} clipped to -{W_MAX} (tau_m too short for the "
                                "threshold; the neuron forgets slower than in float)")
            lam = -W_MAX
        bias_hw = int(round(s * pl["drift"]))
        drift_real = bias_hw / s if bias_hw else pl["c"]    # below threshold: exact, as the origin
        if bias_hw:
            matched = _matched_leak(bias_hw, T, pl["period"])
            if matched is not None:
                lam = -matched
            else:
                rep.warnings.append(f"{name}: no leak reproduces the float firing period of "
                                    f"{pl['period']} steps under the bias alone (kept the default leak)")
        elif pl["origin"] > 0:      # reset below the equilibrium: recovery upward
            lam, bias_hw = _split_leak(pl, s, T, -lam)
        if bias_hw:
            pl["v0"] = pl["v0"] + bias_hw / s      # tick 0: the always-on spike arrives from tick 1
        params.update({"lambda": lam, "epsilon": True, "alpha": T, "beta": ALPHA_MAX, "kappa": True})
    v0 = np.clip(np.rint(s * pl["v0"]), -(2 ** 19), 2 ** 19 - 1).astype(np.int64)
    params["v_init"] = v0 if np.ptp(v0) else int(v0[0])
    size = pop.size if idx is None else int(idx.size)
    rep.populations.append(TNPopulationQuant(
        name, size, pl["mode"], s, int(params["alpha"]), int(lam), abs(T / s - pl["theta"]) / pl["theta"],
        float(pl.get("c", pl["drift"])), float(drift_real), bound_by,
        int(np.max(np.asarray(pop.neuron.get("refractory", 0)))) if pop.size else 0, bias_hw,
        float(pl.get("origin", 0.0)), int(params["R"]), None if idx is None else idx.tolist()))
    return params, bias_hw


def _assemble(pop: Population, parts: list, fld: str) -> tuple[dict[str, Any], np.ndarray]:
    """One truenorth neuron dict (per-neuron arrays where groups differ) and the per-neuron always-on weight."""
    keys = ("model", "lambda", "c_lambda", "epsilon", "alpha", "beta", "TM", "gamma", "kappa", "R", "b", "v_init")
    B = np.zeros(pop.size, np.int64)
    if len(parts) == 1:
        _, params, b = parts[0]
        B[:] = b
        return {k: params[k] for k in keys}, B
    neuron: dict[str, Any] = {"model": "truenorth"}
    first = parts[0][1]
    for k in POPULATION_FLAGS:
        for idx, params, _ in parts[1:]:
            if params[k] != first[k]:
                raise TargetError(f"{fld}.neuron: neurons {int(parts[0][0][0])} and {int(idx[0])} need different "
                                  f"TrueNorth {k} ({first[k]} vs {params[k]}: a memoryless tau_m next to a longer "
                                  "one), which neuromap's truenorth model holds once per population; split the "
                                  "population by tau_m")
        neuron[k] = first[k]
    for k in ("lambda", "alpha", "beta", "gamma", "R", "v_init"):
        a = np.zeros(pop.size, np.int64)
        for idx, params, _ in parts:
            a[idx] = params[k]
        neuron[k] = a
    for idx, _, b in parts:
        B[idx] = b
    return {k: neuron[k] for k in keys}, B


def quantize_truenorth(network: Network, target: Any) -> tuple[Network, TNQuantReport]:
    """Float ``if``/``lif`` (and ``truenorth``) network -> ``truenorth`` network in hardware units + report."""
    where = f"{network.source}: " if network.source else ""
    rep = TNQuantReport(target.name)
    hw = Network(name=network.name, dt=network.dt, seed=network.seed)
    hw.source = network.source
    groups: dict[str, list[np.ndarray]] = {}
    group_of: dict[str, np.ndarray] = {}
    for name, pop in network.populations.items():
        if pop.model in FLOAT_MODELS:
            _check_readout(pop, f"{where}populations.{name}")
            groups[name] = tn_groups(pop)
            group_of[name] = np.zeros(pop.size, np.int64)
            for g, idx in enumerate(groups[name]):
                group_of[name][idx] = g
    plans: dict[tuple[str, int], dict] = {}
    bias_axons: dict[str, np.ndarray] = {}     # population -> per-neuron hw weight of its always-on axon
    gain_in: dict[tuple[str, int], float] = {}
    w_eff: dict[tuple[str, int], np.ndarray] = {}

    def plan(name: str, g: int, fld: str) -> dict:
        pop = network.populations[name]
        view = pop if len(groups[name]) == 1 else _group_view(pop, groups[name][g])
        return plans.setdefault((name, g), _plan(view, network.dt, fld))

    for pr in network.projections:
        post = network.populations[pr.post]
        if post.model in FLOAT_MODELS and pr.n_synapses:
            fld = f"{where}populations.{pr.post}"
            gi = group_of[pr.post][pr.post_idx]
            for g in range(len(groups[pr.post])):
                w = pr.weight if len(groups[pr.post]) == 1 else pr.weight[gi == g]
                if not w.size:
                    continue
                key, gain = (pr.post, g), plan(pr.post, g, fld)["gain"]
                gain_in[key] = max(gain_in.get(key, 0.0), float(np.max(np.abs(w))) * gain)
                w_eff[key] = np.concatenate([w_eff.get(key, np.zeros(0)), np.unique(np.abs(w[w != 0])) * gain])
    for name, pop in network.populations.items():
        fld = f"{where}populations.{name}"
        if pop.model in INPUT_MODELS or pop.model == "truenorth":
            hw.populations[name] = pop
            continue
        if pop.model not in FLOAT_MODELS:
            raise TargetError(f"{fld}.neuron.model: {pop.model!r} cannot be compiled for truenorth "
                              "(use if, lif or truenorth)")
        parts = []
        for g, idx in enumerate(groups[name]):
            pl = plan(name, g, fld)
            params, B = _group_params(pop, pl, gain_in.get((name, g), 0.0), w_eff.get((name, g)), rep, name,
                                      None if len(groups[name]) == 1 else idx)
            parts.append((idx, params, B))
        neuron, B = _assemble(pop, parts, fld)
        if np.any(B):
            bias_axons[name] = B
        if int(np.max(np.asarray(pop.neuron.get("refractory", 0)))):
            rep.warnings.append(f"{name}: refractory {pop.neuron['refractory']} steps dropped "
                                "(TrueNorth neurons have no refractory period)")
        hw.populations[name] = Population(name, pop.size, neuron)
    s_post = {name: np.zeros(network.populations[name].size) for name in groups}   # hw weight per float weight
    for (name, g), pl in plans.items():
        s_post[name][groups[name][g]] = pl["s"] * pl["gain"]
    for k, pr in enumerate(network.projections):
        post = network.populations[pr.post]
        fld = f"{where}projections[{k}] ({pr.name})"
        if pr.plasticity is not None:
            rep.warnings.append(f"{pr.name}: plasticity {pr.plasticity['rule']!r} frozen at the current weights "
                                "(TrueNorth has no on-chip learning)")
        if post.model == "truenorth":
            w = np.asarray(pr.weight, float)
            if w.size and np.abs(w).max() > W_MAX:
                raise TargetError(f"{fld}.weight: {np.abs(w).max():g} exceeds the 9-bit TrueNorth weight "
                                  f"(|w| <= {W_MAX}; rescale the weights and thresholds)")
            scale, q, clipped = 1.0, np.rint(w), 0
        else:
            scale = s_post[pr.post][pr.post_idx]
            x = _signed(pr, post.model) * scale
            q = np.rint(x)
            clipped = int((np.abs(q) > W_MAX).sum())
            q = np.clip(q, -W_MAX, W_MAX)
            w = _signed(pr, post.model)
        nz = w != 0
        rel = np.abs(q / scale - w)[nz] / np.abs(w[nz]) if nz.any() else np.zeros(0)
        scales = np.unique(s_post[pr.post]) if post.model in FLOAT_MODELS else np.ones(1)
        rep.projections.append(TNProjectionQuant(
            pr.name, pr.pre, pr.post, pr.n_synapses, float(scales[0]) if scales.size == 1 else math.nan,
            float(np.sqrt(np.mean(rel ** 2))) if rel.size else 0.0, float(rel.max()) if rel.size else 0.0,
            clipped, int(((q == 0) & nz).sum()), pr.plasticity["rule"] if pr.plasticity else None))
        mode = "excitatory" if not q.size or q.min() >= 0 else "inhibitory" if q.max() <= 0 else "mixed"
        hw.projections.append(dataclasses.replace(
            pr, weight=q.astype(np.float64), target=("exc",), plasticity=None,
            hw={"weight_exp": 0, "num_weight_bits": 8, "sign_mode": mode}))
    _add_always_on(hw, bias_axons, int(target.core.max_neurons), where)
    for p in network.probes:
        keep = tuple(v for v in p.variables if v in ("spikes", "v"))
        if keep:
            hw.probes.append(dataclasses.replace(p, variables=keep))
    return hw, rep
