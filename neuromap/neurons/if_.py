"""``if``: non-leaky integrate-and-fire neuron with an optional constant (linear) leak, as TrueNorth.

One step of dt ms (inputs are instantaneous voltage jumps: ``exc`` adds w, ``inh`` subtracts w)::

    v <- v + input + (bias - leak)*dt     (not refractory) | v_reset (refractory)
    v >= v_th  ->  spike, v <- v_reset (``reset: zero``) or v <- v - (v_th - v_reset) (``reset: subtract``,
                   TrueNorth's linear reset), held for ``refractory`` steps

``leak`` is TrueNorth's linear leak: a constant drift (v per ms), not a decay
toward rest; with leak = bias = 0 this is a perfect integrator.
"""
from __future__ import annotations

import numpy as np

from neuromap.neurons.lif import RESET_MODES, fire, reset_flag
from neuromap.params import Param

PARAMS = {
    "v_th": Param(1.0, unit="v", per_neuron=True, doc="spike threshold (v >= v_th)"),
    "v_reset": Param(0.0, unit="v", per_neuron=True, doc="reset potential"),
    "v_init": Param(0.0, unit="v", per_neuron=True, doc="initial membrane potential"),
    "leak": Param(0.0, unit="v/ms", per_neuron=True, doc="constant linear leak subtracted every ms"),
    "bias": Param(0.0, unit="v/ms", per_neuron=True, doc="constant input added every ms"),
    "refractory": Param(0, kind="int", lo=0, unit="steps", doc="steps v is held at v_reset after a spike"),
    "reset": Param("zero", kind="str", choices=RESET_MODES, doc="after a spike: zero = v <- v_reset; subtract = "
                   "v <- v - (v_th - v_reset)"),
}
STATE = ("v",)
TARGETS = {"exc": (0, 1.0), "inh": (0, -1.0)}
N_CHANNELS = 1
CONSTS = ("drift", "v_th", "v_reset", "refractory", "subtract")


def init_state(params: dict, size: int) -> dict[str, np.ndarray]:
    return {"v": np.broadcast_to(np.asarray(params["v_init"], float), (size,)).copy()}


def constants(params: dict, size: int, dt: float) -> dict[str, np.ndarray]:
    full = lambda x: np.broadcast_to(np.asarray(x, float), (size,)).astype(float)  # noqa: E731
    return {"drift": full((np.asarray(params["bias"], float) - np.asarray(params["leak"], float)) * dt),
            "v_th": full(params["v_th"]), "v_reset": full(params["v_reset"]),
            "refractory": full(params["refractory"]), "subtract": reset_flag(params, size)}


def update(s: dict, c: dict, inp: np.ndarray, refr: np.ndarray) -> np.ndarray:
    """Advance one step in place (numpy); returns spiked."""
    v = s["v"]
    held = refr > 0
    v[:] = np.where(held, c["v_reset"], v + inp[0] + c["drift"])
    return fire(v, c, refr, held)
