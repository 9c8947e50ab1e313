"""``two_compartment``: Urbanczik & Senn (2014) soma + dendrite neuron with Poisson spiking (seeds 001, 002).

As NEST's ``pp_cond_exp_mc_urbanczik`` (units: ms, mV, pF, nS, kHz)::

    tau_L dV_w/dt = -(V_w - E_L) + I_d,   tau_s dI_d/dt = -I_d                       (T1)
        I_d <- I_d + w per ``exc`` spike (mV; ``inh`` subtracts): the dendritic PSP is
        w * tau_s/(tau_L - tau_s) (exp(-t/tau_L) - exp(-t/tau_s)), the kernel of the rule
    C dU/dt = -g_L (U - E_L) + g_D (V_w - U) + g_E (E_E - U) + g_I (E_I - U)             (T2)
    tau_gs dg_E/dt = -g_E,  g_E <- g_E + w per ``soma_exc`` spike (nS); g_I alike ``soma_inh``
        (the somatic teaching input: conductances nudge U towards U_M = (g_E E_E + g_I E_I)/(g_E + g_I))
    phi(u) = phi_max / (1 + k exp(beta (theta - u)))                                     (T3)
    spike with probability 1 - exp(-phi(U) dt) per step (not during ``refractory``)      (T4)
    V_w* = (g_L E_L + g_D V_w)/(g_L + g_D)   dendritic prediction of U                   (T5)
    h(u) = d/du ln phi(u) = beta (1 - phi(u)/phi_max)                                    (T6)

U is not reset after a spike (the soma is a rate unit with Poisson output). One
step: I_d, g_E, g_I jump; V_w, I_d, g_E, g_I advance exactly (as ``lif``); U by
forward Euler from the values at the start of the step; then phi(U), V_w*,
phi(V_w*), h(V_w*) are stored as state (``phi``, ``v_pred``, ``phi_pred``,
``h_pred``) for probes and for the ``urbanczik_senn`` rule, and the spike is drawn
from a generator seeded with ``seed`` (deterministic). Defaults: NEST's
``pp_cond_exp_mc_urbanczik`` / Urbanczik & Senn (2014): tau_L = C/g_L = 10 ms, tau_s = 3 ms.
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param

PARAMS = {
    "C": Param(300.0, lo=1e-9, unit="pF", doc="somatic capacitance"),
    "g_L": Param(30.0, lo=1e-9, unit="nS", doc="somatic leak conductance"),
    "g_D": Param(20.0, lo=0.0, unit="nS", doc="dendrite-to-soma coupling"),
    "E_L": Param(-70.0, unit="mV", doc="leak reversal (both compartments)"),
    "E_E": Param(0.0, unit="mV", doc="excitatory teaching reversal"),
    "E_I": Param(-75.0, unit="mV", doc="inhibitory teaching reversal"),
    "tau_L": Param(10.0, lo=1e-6, unit="ms", doc="dendritic membrane time constant"),
    "tau_s": Param(3.0, lo=1e-6, unit="ms", doc="dendritic synaptic current time constant (!= tau_L)"),
    "tau_gs": Param(3.0, lo=1e-6, unit="ms", doc="somatic teaching conductance time constant"),
    "phi_max": Param(0.15, lo=1e-12, unit="kHz", doc="maximal rate of phi (T3)"),
    "k": Param(0.5, lo=1e-12, doc="rate slope k of phi (T3)"),
    "beta": Param(1.0 / 3.0, lo=1e-12, unit="1/mV", doc="steepness of phi (T3)"),
    "theta": Param(-55.0, unit="mV", doc="midpoint of phi (T3)"),
    "refractory": Param(0, kind="int", lo=0, unit="steps", doc="steps without spikes after a spike"),
    "v_init": Param(-70.0, per_neuron=True, unit="mV", doc="initial U and V_w"),
    "seed": Param(0, kind="int", lo=0, doc="seed of the spike generator"),
}
STATE = ("v", "v_dend", "I_d", "g_E", "g_I", "phi", "v_pred", "phi_pred", "h_pred")
TARGETS = {"exc": (0, 1.0), "inh": (0, -1.0), "soma_exc": (1, 1.0), "soma_inh": (2, 1.0)}
N_CHANNELS = 3
CONSTS = ("a", "b", "p", "dt_C", "g_L", "g_D", "E_L", "E_E", "E_I", "d_g", "phi_max", "k", "beta", "theta",
          "refractory", "pred_a", "pred_b")


def phi(u: np.ndarray, c: dict) -> np.ndarray:
    """(T3) rate in kHz."""
    return c["phi_max"] / (1.0 + c["k"] * np.exp(c["beta"] * (c["theta"] - u)))


def init_state(params: dict, size: int) -> dict[str, np.ndarray]:
    """U = V_w = v_init, currents/conductances 0; derived state filled in by the first step."""
    v0 = np.broadcast_to(np.asarray(params["v_init"], float), (size,)).copy()
    z = lambda: np.zeros(size)  # noqa: E731
    return {"v": v0, "v_dend": v0.copy(), "I_d": z(), "g_E": z(), "g_I": z(), "phi": z(), "v_pred": z(),
            "phi_pred": z(), "h_pred": z()}


def constants(params: dict, size: int, dt: float) -> dict:
    """Per-neuron constants for one step of ``dt`` ms; ``rng`` (not a CONSTS row) draws the spikes."""
    p = params
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).astype(float)  # noqa: E731
    tl, ts = float(p["tau_L"]), float(p["tau_s"])
    a, b = math.exp(-dt / tl), math.exp(-dt / ts)
    pp = (dt / tl) * a if ts == tl else ts / (ts - tl) * (b - a)
    gsum = p["g_L"] + p["g_D"]
    return {"a": full(a), "b": full(b), "p": full(pp), "dt_C": full(dt / p["C"]), "g_L": full(p["g_L"]),
            "g_D": full(p["g_D"]), "E_L": full(p["E_L"]), "E_E": full(p["E_E"]), "E_I": full(p["E_I"]),
            "d_g": full(math.exp(-dt / p["tau_gs"])), "phi_max": full(p["phi_max"]), "k": full(p["k"]),
            "beta": full(p["beta"]), "theta": full(p["theta"]), "refractory": full(p["refractory"]),
            "pred_a": full(p["g_L"] * p["E_L"] / gsum), "pred_b": full(p["g_D"] / gsum),
            "dt": dt, "rng": np.random.default_rng([int(p["seed"]), 0x75726263])}


def update(s: dict, c: dict, inp: np.ndarray, refr: np.ndarray) -> np.ndarray:
    """Advance one step in place (numpy). Returns spiked (bool[size])."""
    u, vw, idd, ge, gi = s["v"], s["v_dend"], s["I_d"], s["g_E"], s["g_I"]
    idd += inp[0]
    ge += inp[1]
    gi += inp[2]
    du = c["dt_C"] * (-c["g_L"] * (u - c["E_L"]) + c["g_D"] * (vw - u) + ge * (c["E_E"] - u)
                      + gi * (c["E_I"] - u))                                        # (T2)
    vw[:] = vw * c["a"] + c["E_L"] * (1.0 - c["a"]) + c["p"] * idd                  # (T1)
    idd *= c["b"]
    ge *= c["d_g"]
    gi *= c["d_g"]
    u += du
    s["phi"][:] = phi(u, c)
    s["v_pred"][:] = c["pred_a"] + c["pred_b"] * vw                                  # (T5)
    s["phi_pred"][:] = phi(s["v_pred"], c)
    s["h_pred"][:] = c["beta"] * (1.0 - s["phi_pred"] / c["phi_max"])                # (T6)
    held = refr > 0
    refr -= held
    draw = c["rng"].random(u.size)
    spiked = (draw < -np.expm1(-s["phi"] * c["dt"])) & ~held                        # (T4)
    refr[spiked] = c["refractory"][spiked].astype(np.int64)
    return spiked
