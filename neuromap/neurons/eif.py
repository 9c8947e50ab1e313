"""``eif``: exponential integrate-and-fire neuron with exponential synaptic currents (seed 004, Zhu & Rosenbaum).

Equations (ms, mV; C in uF/cm^2, g_L in mS/cm^2, currents in uA/cm^2)::

    C dv/dt = -g_L*(v - E_L) + g_L*Delta_T*exp((v - V_T)/Delta_T) + I_e + I_i + bias
    tau_e dI_e/dt = -I_e,   I_e <- I_e + w/tau_e   per ``exc`` spike (kernel integrates to w)
    tau_i dI_i/dt = -I_i,   I_i <- I_i - w/tau_i   per ``inh`` spike
    v >= v_th  ->  spike, v <- v_reset, held for ``refractory`` steps; v >= v_lb always

One step of dt: currents jump, v by forward Euler (the exponential term is
evaluated with the C library's exp in both backends: numpy's SIMD exp differs
in the last bit), v clipped at v_lb, currents decay exactly by exp(-dt/tau),
spike test.
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.neurons.lif import fire
from neuromap.params import Param

PARAMS = {
    "C": Param(1.0, lo=1e-9, unit="uF/cm2", doc="membrane capacitance"),
    "g_L": Param(1.0 / 15.0, lo=0.0, unit="mS/cm2", doc="leak conductance"),
    "E_L": Param(-72.0, unit="mV", doc="leak reversal"),
    "V_T": Param(-55.0, unit="mV", doc="soft threshold"),
    "Delta_T": Param(1.0, lo=1e-9, unit="mV", doc="spike slope factor"),
    "v_th": Param(0.0, unit="mV", doc="spike detection threshold"),
    "v_reset": Param(-75.0, unit="mV", doc="reset potential"),
    "v_lb": Param(-100.0, unit="mV", doc="lower bound of v"),
    "v_init": Param(-72.0, per_neuron=True, unit="mV", doc="initial v"),
    "tau_exc": Param(8.0, lo=1e-6, unit="ms", doc="excitatory current time constant"),
    "tau_inh": Param(4.0, lo=1e-6, unit="ms", doc="inhibitory current time constant"),
    "bias": Param(0.0, per_neuron=True, unit="uA/cm2", doc="constant applied current"),
    "refractory": Param(0, kind="int", lo=0, unit="steps", doc="steps v is held at v_reset after a spike"),
}
STATE = ("v", "I_e", "I_i")
TARGETS = {"exc": (0, 1.0), "inh": (1, -1.0)}
N_CHANNELS = 2
CONSTS = ("dt_C", "g_L", "E_L", "V_T", "Delta_T", "gLDT", "bias", "v_lb", "v_th", "v_reset", "refractory",
          "inv_tau_e", "inv_tau_i", "d_e", "d_i")

_CEXP = []


def _cexp(x: np.ndarray) -> np.ndarray:
    """The C library's exp, elementwise (bit-identical to numba's math.exp; numpy's SIMD exp is not)."""
    if not _CEXP:
        try:
            import numba

            @numba.vectorize(["float64(float64)"])
            def cexp(v):
                return math.exp(v)
            _CEXP.append(cexp)
        except ImportError:  # pragma: no cover - numba is a dependency; slow exact fallback
            _CEXP.append(np.frompyfunc(math.exp, 1, 1))
    return _CEXP[0](x)


def init_state(params: dict, size: int) -> dict[str, np.ndarray]:
    return {"v": np.broadcast_to(np.asarray(params["v_init"], float), (size,)).copy(),
            "I_e": np.zeros(size), "I_i": np.zeros(size)}


def constants(params: dict, size: int, dt: float) -> dict[str, np.ndarray]:
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).astype(float)  # noqa: E731
    p = params
    return {"dt_C": full(dt / p["C"]), "g_L": full(p["g_L"]), "E_L": full(p["E_L"]), "V_T": full(p["V_T"]),
            "Delta_T": full(p["Delta_T"]), "gLDT": full(p["g_L"] * p["Delta_T"]), "bias": full(p["bias"]),
            "v_lb": full(p["v_lb"]), "v_th": full(p["v_th"]), "v_reset": full(p["v_reset"]),
            "refractory": full(p["refractory"]), "inv_tau_e": full(1.0 / p["tau_exc"]),
            "inv_tau_i": full(1.0 / p["tau_inh"]), "d_e": full(math.exp(-dt / p["tau_exc"])),
            "d_i": full(math.exp(-dt / p["tau_inh"]))}


def update(s: dict, c: dict, inp: np.ndarray, refr: np.ndarray) -> np.ndarray:
    """Advance one step in place (numpy); returns spiked."""
    v, ie, ii = s["v"], s["I_e"], s["I_i"]
    ie += inp[0] * c["inv_tau_e"]
    ii += inp[1] * c["inv_tau_i"]
    held = refr > 0
    ex = np.asarray(_cexp((v - c["V_T"]) / c["Delta_T"]), dtype=float)
    dv = c["dt_C"] * (-c["g_L"] * (v - c["E_L"]) + c["gLDT"] * ex + ie + ii + c["bias"])
    v[:] = np.where(held, c["v_reset"], np.maximum(v + dv, c["v_lb"]))
    ie *= c["d_e"]
    ii *= c["d_i"]
    return fire(v, c, refr, held)
