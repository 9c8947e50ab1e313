"""Quantization of ``two_compartment`` (Urbanczik-Senn soma + dendrite, seeds 001/002) onto two joined
``loihi_lif`` compartments (``neurons.join_parent``, join ADD; docs/image-format.md, *Compartments*).

Float model (neuromap/neurons/two_compartment.py, T1-T5), one step of dt, primes relative to E_L::

    dendrite  I_d <- I_d + w (exc) ; V_w' <- a V_w' + p I_d ; I_d <- b I_d         a = e^(-dt/tau_L), b = e^(-dt/tau_s)
    soma      U' <- (1 - dt (g_L + g_D)/C) U' + (dt g_D/C) V_w' + (dt/C) [g_E (E_E - U) + g_I (E_I - U)]
              g_E <- g_E + w (soma_exc) ... decays by d_g = e^(-dt/tau_gs) (g_I alike)

Chip (population ``name`` = the soma, ``name_dend`` = its dendrites, neuron i joins neuron i)::

    dendrite  u_d = in << 6 (du = max: no memory) ; v_d = v_d (1 - dv_d/U) + u_d     dv_d = round(U (1 - a))
    soma      u_s = u_s (1 - (du_s + 1)/U) + in << 6                                     du_s + 1 = round(U (1 - d_g))
              v_s = v_s (1 - dv_s/U) + u_s + v_d                                       dv_s = round(U dt (g_L + g_D)/C)

with scales ``v_s = s U'`` and ``v_d = s_d V_w'``, ``s_d = s dt g_D / C`` (the join adds v_d with gain 1, so the
dendrite's scale carries the coupling). Every approximation is reported (``QuantizationReport.warnings``):

* the dendritic PSP becomes one exponential (tau_L) with the float kernel's area: a synaptic input of weight
  w adds ``s_d p / (1 - b) w`` to v_d (u_d has no memory). Keeping tau_s in u_d would multiply the chain's gain by
  tau_s/dt (30): with the soma's range in 24 bits the smallest weight would then be ~7 mV instead of ~0.3;
* the teaching conductances become currents with the driving force at ``theta`` (phi's midpoint):
  ``g (E - theta)``; the error at U = E_L and U = E_E is reported;
* the soma does not spike: its threshold is the largest (v_s stays below it for U' < (2^23 - 1)/s, chosen to
  cover 1.15 (E_E - E_L)); T4's Poisson spikes need a random source the compartment does not have. phi(U) reaches
  the chip only through the ``urbanczik_senn`` learning engine's third factor;
* probes: ``v`` -> the soma's v, ``v_dend`` -> the dendrite's v, ``spikes`` kept; ``phi``, ``v_pred``,
  ``phi_pred``, ``h_pred``, ``I_d``, ``g_E``, ``g_I`` are not chip state and are dropped (a warning).

U' = v_s / s, V_w' = v_d / s_d; V_w* (T5) = E_L + g_D/(g_L + g_D) V_w' = E_L + (C/(dt (g_L + g_D))) v_d / s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromap.errors import TargetError
from neuromap.network import Network, Population, Probe

MODEL = "two_compartment"
#: suffix of the dendrite population a ``two_compartment`` population adds
DEND = "_dend"
#: fraction of E_E - E_L the soma's v covers below its (never reached) threshold
U_HEADROOM = 1.15


@dataclass
class CompartmentPlan:
    """What the projection loop needs of a ``two_compartment`` population: its soma and dendrite scales (hw v units
    per mV), the weight gains per float weight unit of each target and the names of the two populations."""

    soma: str
    dend: str
    s: float
    s_d: float
    gains: dict[str, tuple[str, float, float]]     # target -> (hw population, gain, sign)
    dt: float
    C: float
    g_L: float
    g_D: float
    E_L: float


def _scalar(pop: Population, key: str, fld: str) -> float:
    v = np.asarray(pop.neuron[key], float)
    if v.size > 1 and not np.all(v == v.reshape(-1)[0]):
        raise TargetError(f"{fld}.{key}: per-neuron values are not supported on the chip (one value per population)")
    return float(v.reshape(-1)[0])


def quantize_population(network: Network, hw: Network, name: str, pop: Population, f: Any, fld: str,
                        entry: Any) -> tuple[CompartmentPlan, list, list[str]]:
    """Add the soma (``name``) and dendrite (``name_dend``) populations of ``network``'s population ``name`` to
    ``hw``. Returns the plan, the report entries (built by ``entry(**fields)``,
    :class:`neuromap.compiler.quantize.PopulationQuant`) and warnings."""
    dt = network.dt
    g = {k: _scalar(pop, k, fld) for k in ("C", "g_L", "g_D", "E_L", "E_E", "E_I", "tau_L", "tau_s", "tau_gs",
                                              "theta")}
    dend = name + DEND
    if dend in hw.populations or dend in network.populations:
        raise TargetError(f"{fld}: the chip needs a population {dend!r} for its dendrites; rename the other one")
    unity = f.decay_unity
    a, b, d_g = math.exp(-dt / g["tau_L"]), math.exp(-dt / g["tau_s"]), math.exp(-dt / g["tau_gs"])
    lam = dt * (g["g_L"] + g["g_D"]) / g["C"]          # the soma's per-step leak (forward Euler, exactly linear)
    if lam >= 1.0:
        raise TargetError(f"{fld}: dt (g_L + g_D)/C = {lam:.3g} >= 1: the soma's Euler step is unstable "
                          "(use a smaller dt)")
    dv_s = min(max(int(round(unity * lam)), 1), f.decay_max)
    du_s = min(max(int(round(unity * (1 - d_g))) - 1, 0), f.decay_max)
    dv_d = min(max(int(round(unity * (1 - a))), 1), f.decay_max)
    span = U_HEADROOM * max(abs(g["E_E"] - g["E_L"]), abs(g["E_I"] - g["E_L"]), 1e-9)
    top = min(f.vth_max << f.vth_shift, f.v_max)
    s = (top - 1) / span
    s_d = s * dt * g["g_D"] / g["C"]
    p = g["tau_s"] / (g["tau_s"] - g["tau_L"]) * (b - a) if g["tau_s"] != g["tau_L"] else dt / g["tau_L"] * a
    kernel = p / (1.0 - b)                                # V_w' area per unit w over 1/(1-a): single exponential
    v0 = np.broadcast_to(np.asarray(pop.neuron["v_init"], float), (pop.size,)) - g["E_L"]
    clipv = lambda x: np.clip(np.rint(x), -f.v_max, f.v_max).astype(np.int64)  # noqa: E731
    hw.add_population(name, pop.size, "loihi_lif", du=du_s, dv=dv_s, vth=f.vth_max, bias_mant=0, bias_exp=0, u=0,
                      v=clipv(s * v0))
    hw.add_population(dend, pop.size, "loihi_lif", du=f.decay_max, dv=dv_d, vth=f.vth_max, bias_mant=0, bias_exp=0,
                      u=0, v=clipv(s_d * v0), join=name)
    keep = lambda d, off: (unity - d - off) / unity  # noqa: E731
    tau_hw = lambda k: -dt / math.log(k) if 0 < k < 1 else 0.0  # noqa: E731
    rel = lambda hw_, fl: abs(hw_ - fl) / abs(fl)  # noqa: E731
    soma_q = entry(name=name, model=MODEL, size=pop.size, v_scale=s, vth=f.vth_max, bound_by="voltage",
                   threshold_rel_error=0.0, du=du_s, dv=dv_s, tau_syn=g["tau_gs"], tau_syn_hw=tau_hw(keep(du_s, 1)),
                   decay_u_rel_error=rel(1 - keep(du_s, 1), 1 - d_g), tau_m=g["C"] / (g["g_L"] + g["g_D"]),
                   tau_m_hw=dt * unity / dv_s, decay_v_rel_error=rel(dv_s / unity, lam), bias_max_rel_error=0.0,
                   readout=True, v_reset=g["E_L"])
    dend_q = entry(name=dend, model=MODEL, size=pop.size, v_scale=s_d, vth=f.vth_max, bound_by="join",
                   threshold_rel_error=0.0, du=f.decay_max, dv=dv_d, tau_syn=g["tau_s"], tau_syn_hw=0.0,
                   decay_u_rel_error=rel(1.0, 1 - b), tau_m=g["tau_L"], tau_m_hw=tau_hw(keep(dv_d, 0)),
                   decay_v_rel_error=rel(dv_d / unity, 1 - a), bias_max_rel_error=0.0, readout=True, v_reset=g["E_L"])
    u_ref = g["theta"]
    gains = {"exc": (dend, s_d * kernel, 1.0), "inh": (dend, s_d * kernel, -1.0),
             "soma_exc": (name, s * dt / g["C"] * (g["E_E"] - u_ref), 1.0),
             "soma_inh": (name, s * dt / g["C"] * (u_ref - g["E_I"]), -1.0)}
    drive = lambda e, u: abs((e - u_ref) - (e - u)) / max(abs(e - u), 1e-9)  # noqa: E731
    warn = [f"populations.{name}: two_compartment on two joined loihi_lif compartments ({name}, {dend}); the soma "
            "does not spike on the chip (no random source for T4's Poisson spikes: vth at the maximum)",
            f"populations.{name}: the dendritic PSP is one exponential (tau_L {g['tau_L']:g} ms, the float kernel's "
            f"area; tau_s {g['tau_s']:g} ms rise dropped)",
            f"populations.{name}: teaching conductances become currents at U = theta = {u_ref:g} mV (driving force "
            f"error at E_L: exc {drive(g['E_E'], g['E_L']):.2f}, inh {drive(g['E_I'], g['E_L']):.2f}; at -40 mV: exc "
            f"{drive(g['E_E'], -40.0):.2f}, inh {drive(g['E_I'], -40.0):.2f})"]
    plan = CompartmentPlan(name, dend, s, s_d, gains, dt, g["C"], g["g_L"], g["g_D"], g["E_L"])
    return plan, [soma_q, dend_q], warn


def target_of(plan: CompartmentPlan, target: tuple[str, ...], fld: str) -> tuple[str, float, float]:
    """(hw post population, gain per float weight unit, sign) of a projection onto ``plan``'s population."""
    t = target[0] if len(target) == 1 else None
    if t not in plan.gains:
        raise TargetError(f"{fld}.target: {target!r} onto two_compartment: use one of {', '.join(plan.gains)}")
    return plan.gains[t]


def probes(pb: Probe, plan: CompartmentPlan) -> tuple[list[Probe], list[str]]:
    """The chip probes of a float probe of ``plan``'s population, and what was dropped."""
    soma = tuple(v for v in pb.variables if v in ("v", "spikes"))
    out = [Probe(plan.soma, soma, pb.neurons)] if soma else []
    if "v_dend" in pb.variables:
        out.append(Probe(plan.dend, ("v",), pb.neurons))
    dropped = [v for v in pb.variables if v not in ("v", "spikes", "v_dend")]
    return out, ([f"probes.{pb.population}: {', '.join(dropped)} are not chip state (dropped; the chip has v of "
                  f"{plan.soma} and {plan.dend})"] if dropped else [])


#: pre trace impulse of the Urbanczik-Senn rule on the chip (x1: the dendritic PSP of a unit weight, 7-bit trace)
US_IMPULSE = 64.0
#: table index shift: 2^(24 - US_LUT_SHIFT) entries over the 24-bit v range
US_LUT_SHIFT = 12


def quantize_urbanczik(pr: Any, x: np.ndarray, plan: CompartmentPlan, pop: Population, f: Any, rng_seed: int,
                       fld: str) -> tuple[dict, dict, dict, dict]:
    """Float ``urbanczik_senn`` onto engine ``loihi3f_us`` (docs/voltage-rules.md, *On chip: Urbanczik-Senn with
    the dendritic error as third factor*): weights at exponent 0 (mixed, 8 bit), the connection
    ``dw = (+-2^-7) u0 x1 y2`` with x1 the chip's dendritic PSP trace (impulse :data:`US_IMPULSE`, tau_L) and y2
    the neuron's dithered error, scaled so that E[dw] = ws eta (phi(U) - phi(V_w*)) dt h(V_w*) s*(k) per step.
    Returns (q, learning, arrays, report) as :func:`neuromap.compiler.quantize_learning.quantize_plastic`."""
    from neuromap.learning_engines import loihi3f, loihi3f_us  # lazy: only this mapping needs the engine modules
    from neuromap.learning_rules import config_from_rules  # lazy: as above
    p = pr.plasticity
    if pr.target[0] not in ("exc", "inh"):
        raise TargetError(f"{fld}.target: urbanczik_senn learns dendritic synapses (exc/inh), not {pr.target[0]!r}")
    if pr.n_synapses and np.any(pr.delay != 1):
        raise TargetError(f"{fld}.delay: urbanczik_senn on the chip needs delay 1 (one step)")
    g = {k: _scalar(pop, k, f"populations.{pr.post}") for k in ("phi_max", "k", "beta", "theta", "E_L")}
    sign = -1.0 if pr.target[0] == "inh" else 1.0
    gain = plan.gains[pr.target[0]][1]                    # hw input per float weight unit
    ws = gain / 2.0 ** f.act_shift                        # stored weight per float weight unit (exponent 0)
    lo, hi = f.w_lo["mixed"], f.w_hi["mixed"]
    step = 1 << (8 - f.bits_max + 1)
    raw = x / 2.0 ** f.act_shift
    m = np.clip(np.rint(raw / step) * step, lo, hi).astype(np.int64)
    q = {"mantissa": m, "exp": 0, "bits": f.bits_max, "sign_mode": "mixed", "clipped": int(np.sum(np.abs(raw) > hi)),
         "zeroed": int(np.sum((m == 0) & (x != 0))), "unit": 2.0 ** f.act_shift}
    dt = plan.dt
    kernel = gain / plan.s_d                              # V_w' jump (mV) per unit weight on the chip
    # E[dw] per step = ws eta err s*, err = phi_max dt beta e / 2^27, s* = kernel x1 / K; engine: 2^-7 x1 q
    want = 128.0 * ws * float(p["eta"]) * g["phi_max"] * dt * g["beta"] * kernel / (2.0 ** 27 * US_IMPULSE)
    if want <= 0:
        raise TargetError(f"{fld}.plasticity.eta: {p['eta']!r} must be > 0 on the chip (a frozen projection needs no "
                          "rule)")
    err_mult, err_shift = loihi3f_us.dither_fraction(want)
    if want * 2 ** 27 > loihi3f_us.Q_MAX / 2:
        raise TargetError(f"{fld}.plasticity.eta: {p['eta']!r} is too large for the chip's third factor (expected "
                          f"error step {want * 2 ** 27:.3g} > {loihi3f_us.Q_MAX / 2})")
    pred = plan.C / (dt * (plan.g_L + plan.g_D))          # V_w* in soma units per v_d unit
    pred_mult, pred_shift = loihi3f_us.dither_fraction(pred)
    lit = "2^-7" if sign > 0 else "-1 * 2^-7"
    cfg = config_from_rules(dw=f"{lit} * u0 * x1 * y2", rng_seed=int(rng_seed) % (2 ** 31), t_epoch=1,
                            x1_impulse=US_IMPULSE, x1_tau=float(p["tau_L"]) / dt, y1_tau=loihi3f.Y_TAU,
                            y2_tau=loihi3f.Y_TAU, y3_tau=loihi3f.Y_TAU, sign_mode="mixed", num_weight_bits=8)
    seed = int(np.asarray(pop.neuron.get("seed", 0)).reshape(-1)[0])
    learning = {"engine": loihi3f_us.ENGINE, **cfg.to_dict(), "lut_shift": US_LUT_SHIFT, "pred_mult": pred_mult,
                "pred_shift": pred_shift, "err_mult": err_mult, "err_shift": err_shift, "seed": seed}
    phi_lut, h_lut = loihi3f_us.tables(g["phi_max"], g["k"], g["beta"], g["theta"] - g["E_L"], plan.s, US_LUT_SHIFT)
    real = err_mult / 2.0 ** err_shift
    w_max, w_min = float(p["w_max"]), float(p["w_min"])
    report = {"engine": loihi3f_us.ENGINE, "weight_scale": ws, "w_range": [lo, hi],
              "param_rel_error": {"eta": abs(real - want) / want,
                                  "pred": abs(pred_mult / 2.0 ** pred_shift - pred) / pred,
                                  "w_max": max(0.0, w_max - hi / ws) / abs(w_max) if w_max else 0.0,
                                  "w_min": max(0.0, lo / ws - w_min) / abs(w_min) if w_min else 0.0},
              "table_rel_error": {}, "rule": f"dw = {lit} * u0 * x1 * y2",
              "dropped": "tau_Delta (weights follow eta * PI, not its tau_Delta low-pass); PSP kernel of one "
                         "exponential (the chip dendrite's); post spikes n(k) replaced by phi(U) dt (the soma does "
                         "not spike)",
              "lut_mV": 2.0 ** US_LUT_SHIFT / plan.s}
    return q, learning, {"phi_lut": phi_lut, "h_lut": h_lut}, report
