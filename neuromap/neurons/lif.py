"""``lif``: current-based leaky integrate-and-fire neuron with an exponential synaptic current.

Equations (time in ms, v and I in the same arbitrary voltage units, R = 1)::

    tau_m   dv/dt = -(v - v_rest) + I + bias
    tau_syn dI/dt = -I,      I <- I + w  for each arriving spike (``exc``; ``inh`` subtracts)
    v >= v_th  ->  spike, v <- v_reset (``reset: zero``) or v <- v - (v_th - v_reset) (``reset: subtract``),
                   v held at v_reset for ``refractory`` steps

Discretization (exact for the linear system over one step of dt, as NEST's
``iaf_psc_exp``): with a = exp(-dt/tau_m), b = exp(-dt/tau_syn) and
p = tau_syn/(tau_syn - tau_m) * (b - a)  (p = dt/tau_m * a when tau_syn == tau_m),
one step is::

    I <- I + input                      (spikes arriving this step)
    v <- v*a + (v_rest + bias)*(1 - a) + p*I    (not refractory) | v_reset (refractory)
    I <- I*b
    spike if v >= v_th (not refractory)

so an input arriving at step t moves v already at the end of step t.
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param

#: ``v_th`` of a non-spiking readout (NIR ``LI`` / ``CubaLI``): the largest float, never reached; compiled as a
#: probed-voltage readout (``docs/nir.md``, *Readouts*)
NEVER_FIRES = float(np.finfo(np.float64).max)
#: reset mechanisms: ``zero`` sets v to v_reset, ``subtract`` removes the distance v_th - v_reset from v
RESET_MODES = ("zero", "subtract")

PARAMS = {
    "tau_m": Param(20.0, lo=1e-6, unit="ms", per_neuron=True, doc="membrane time constant"),
    "tau_syn": Param(5.0, lo=1e-6, unit="ms", per_neuron=True, doc="synaptic current time constant"),
    "v_rest": Param(0.0, unit="v", per_neuron=True, doc="resting potential"),
    "v_th": Param(1.0, unit="v", per_neuron=True, doc="spike threshold (v >= v_th)"),
    "v_reset": Param(0.0, unit="v", per_neuron=True, doc="reset potential"),
    "v_init": Param(0.0, unit="v", per_neuron=True, doc="initial membrane potential"),
    "refractory": Param(0, kind="int", lo=0, unit="steps", doc="steps v is held at v_reset after a spike"),
    "bias": Param(0.0, unit="v", per_neuron=True, doc="constant input (steady state v_rest + bias)"),
    "reset": Param("zero", kind="str", choices=RESET_MODES, doc="after a spike: zero = v <- v_reset; subtract = "
                   "v <- v - (v_th - v_reset) (snnTorch's default, Loihi 2 / TrueNorth linear reset)"),
}
STATE = ("v", "I")
#: target -> (input channel, sign)
TARGETS = {"exc": (0, 1.0), "inh": (0, -1.0)}
N_CHANNELS = 1
CONSTS = ("a", "b", "p", "c0", "v_th", "v_reset", "refractory", "subtract")


def init_state(params: dict, size: int) -> dict[str, np.ndarray]:
    """Initial state, float64[size] per STATE name."""
    return {"v": np.broadcast_to(np.asarray(params["v_init"], float), (size,)).copy(),
            "I": np.zeros(size)}


def constants(params: dict, size: int, dt: float) -> dict[str, np.ndarray]:
    """Per-neuron propagators for one step of ``dt`` ms (computed with math.exp, shared by both backends)."""
    tm = np.broadcast_to(np.asarray(params["tau_m"], float), (size,))
    ts = np.broadcast_to(np.asarray(params["tau_syn"], float), (size,))
    a = np.array([math.exp(-dt / x) for x in tm])
    b = np.array([math.exp(-dt / x) for x in ts])
    p = np.array([(dt / m) * ai if s == m else s / (s - m) * (bi - ai) for m, s, ai, bi in zip(tm, ts, a, b)])
    vinf = np.asarray(params["v_rest"], float) + np.asarray(params["bias"], float)
    c0 = np.broadcast_to(vinf * (1.0 - a), (size,)).astype(float)
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).astype(float)  # noqa: E731
    return {"a": a, "b": b, "p": p, "c0": c0, "v_th": full(params["v_th"]), "v_reset": full(params["v_reset"]),
            "refractory": full(params["refractory"]), "subtract": reset_flag(params, size)}


def reset_flag(params: dict, size: int) -> np.ndarray:
    """float64[size]: 1.0 where the neuron resets by subtraction, 0.0 where it resets to v_reset."""
    return np.full(size, 1.0 if params.get("reset", "zero") == "subtract" else 0.0)


def update(s: dict, c: dict, inp: np.ndarray, refr: np.ndarray) -> np.ndarray:
    """Advance one step in place (numpy). inp: float64[N_CHANNELS, size]; refr: int64 steps left. Returns spiked."""
    v, i_syn = s["v"], s["I"]
    i_syn += inp[0]
    held = refr > 0
    v[:] = np.where(held, c["v_reset"], v * c["a"] + c["c0"] + c["p"] * i_syn)
    i_syn *= c["b"]
    return fire(v, c, refr, held)


def fire(v: np.ndarray, c: dict, refr: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Threshold, reset and refractory bookkeeping shared by lif, if and eif; returns spiked.

    Reset: v <- v_reset, or v <- v - (v_th - v_reset) where ``c["subtract"]`` is 1 (models without it: zero).
    """
    refr -= held
    spiked = (v >= c["v_th"]) & ~held
    sub = c.get("subtract")
    if sub is None:
        v[spiked] = c["v_reset"][spiked]
    else:
        v[spiked] = np.where(sub[spiked] != 0.0, v[spiked] - (c["v_th"][spiked] - c["v_reset"][spiked]),
                             c["v_reset"][spiked])
    refr[spiked] = c["refractory"][spiked].astype(np.int64)
    return spiked
