"""``adex``: adaptive exponential integrate-and-fire neuron of Clopath et al. (2010), delta synapses.

Brette & Gerstner (2005) with Clopath's additions (spike clamp, depolarizing
after-potential z, adaptive threshold V_T), as NEST's ``aeif_psc_delta_clopath``.
Units: ms, mV, pF, nS, pA (nS*mV = pA, pA/pF = mV/ms)::

    C dV/dt     = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) - w + z + I_e      (A1)
    tau_w dw/dt = a (V - E_L) - w                                                      (A2)
    tau_z dz/dt = -z                                                                   (A3)
    tau_VT dV_T/dt = -(V_T - V_T_rest)                                                 (A4)
    synapses: V <- V + w_syn  (mV) per arriving spike (``exc``; ``inh`` subtracts)     (A5)
    V >= V_peak -> spike: V <- V_clamp for ``clamp`` steps, then V <- V_reset;
                  w <- w + b,  z <- I_sp,  V_T <- V_T_max                               (A6)

One step of dt: V jumps by the synaptic input, then (not clamped) forward Euler of
(A1)-(A4) from the values at the start of the step (the exponent is capped at 50 to
stay finite); clamped steps only run (A2)-(A4). The clamp counter is the simulator's
``refr`` array. ``clamp = 0`` resets at once (plain AdEx). Defaults: the NEST
spike-pairing example of the Clopath rule (Clopath et al. 2010, Table 1b).
"""
from __future__ import annotations

import numpy as np

from neuromap.params import Param

PARAMS = {
    "C": Param(281.0, lo=1e-9, unit="pF", doc="membrane capacitance"),
    "g_L": Param(30.0, lo=0.0, unit="nS", doc="leak conductance"),
    "E_L": Param(-70.6, unit="mV", doc="leak reversal"),
    "Delta_T": Param(2.0, lo=1e-9, unit="mV", doc="slope factor"),
    "V_T_rest": Param(-50.4, unit="mV", doc="resting soft threshold"),
    "V_T_max": Param(-30.4, unit="mV", doc="soft threshold after a spike"),
    "tau_VT": Param(50.0, lo=1e-6, unit="ms", doc="threshold relaxation time constant"),
    "a": Param(4.0, unit="nS", doc="subthreshold adaptation"),
    "b": Param(80.5, unit="pA", doc="spike-triggered adaptation"),
    "tau_w": Param(144.0, lo=1e-6, unit="ms", doc="adaptation time constant"),
    "I_sp": Param(400.0, unit="pA", doc="depolarizing after-potential current after a spike"),
    "tau_z": Param(40.0, lo=1e-6, unit="ms", doc="after-potential time constant"),
    "V_peak": Param(33.0, unit="mV", doc="spike detection (V >= V_peak)"),
    "V_clamp": Param(33.0, unit="mV", doc="V during the clamp after a spike"),
    "V_reset": Param(-49.6, unit="mV", doc="V after the clamp (NEST example: E_L + 21)"),
    "clamp": Param(20, kind="int", lo=0, unit="steps", doc="steps V is held at V_clamp (2 ms at dt = 0.1)"),
    "I_e": Param(0.0, per_neuron=True, unit="pA", doc="constant input current"),
    "v_init": Param(-70.6, per_neuron=True, unit="mV", doc="initial V"),
}
STATE = ("v", "w", "z", "V_T")
TARGETS = {"exc": (0, 1.0), "inh": (0, -1.0)}
N_CHANNELS = 1
CONSTS = ("dt_C", "g_L", "E_L", "Delta_T", "gLDT", "I_e", "a", "dt_tw", "dt_tz", "dt_tvt", "V_T_rest",
          "V_T_max", "b", "I_sp", "V_peak", "V_clamp", "V_reset", "clamp")


def init_state(params: dict, size: int) -> dict[str, np.ndarray]:
    """v = v_init, w = z = 0, V_T = V_T_rest (float64[size] each)."""
    return {"v": np.broadcast_to(np.asarray(params["v_init"], float), (size,)).copy(),
            "w": np.zeros(size), "z": np.zeros(size), "V_T": np.full(size, float(params["V_T_rest"]))}


def constants(params: dict, size: int, dt: float) -> dict[str, np.ndarray]:
    """Per-neuron constants for one step of ``dt`` ms."""
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).astype(float)  # noqa: E731
    p = params
    return {"dt_C": full(dt / p["C"]), "g_L": full(p["g_L"]), "E_L": full(p["E_L"]),
            "Delta_T": full(p["Delta_T"]), "gLDT": full(p["g_L"] * p["Delta_T"]), "I_e": full(p["I_e"]),
            "a": full(p["a"]), "dt_tw": full(dt / p["tau_w"]), "dt_tz": full(dt / p["tau_z"]),
            "dt_tvt": full(dt / p["tau_VT"]), "V_T_rest": full(p["V_T_rest"]), "V_T_max": full(p["V_T_max"]),
            "b": full(p["b"]), "I_sp": full(p["I_sp"]), "V_peak": full(p["V_peak"]),
            "V_clamp": full(p["V_clamp"]), "V_reset": full(p["V_reset"]), "clamp": full(p["clamp"])}


def update(s: dict, c: dict, inp: np.ndarray, refr: np.ndarray) -> np.ndarray:
    """Advance one step in place (numpy); ``refr`` counts clamp steps left. Returns spiked (bool[size])."""
    v, w, z, vt = s["v"], s["w"], s["z"], s["V_T"]
    v += inp[0]                                                           # (A5)
    held = refr > 0
    ex = np.exp(np.minimum((v - vt) / c["Delta_T"], 50.0))
    dv = c["dt_C"] * (-c["g_L"] * (v - c["E_L"]) + c["gLDT"] * ex - w + z + c["I_e"])   # (A1)
    dw = c["dt_tw"] * (c["a"] * (v - c["E_L"]) - w)                                   # (A2)
    z -= c["dt_tz"] * z                                                                # (A3)
    vt -= c["dt_tvt"] * (vt - c["V_T_rest"])                                            # (A4)
    w += dw
    refr -= held
    v[:] = np.where(held, np.where(refr > 0, c["V_clamp"], c["V_reset"]), v + dv)
    spiked = (v >= c["V_peak"]) & ~held                                                # (A6)
    if spiked.any():
        nc = c["clamp"][spiked].astype(np.int64)
        v[spiked] = np.where(nc > 0, c["V_clamp"][spiked], c["V_reset"][spiked])
        refr[spiked] = nc
        w[spiked] += c["b"][spiked]
        z[spiked] = c["I_sp"][spiked]
        vt[spiked] = c["V_T_max"][spiked]
    return spiked
