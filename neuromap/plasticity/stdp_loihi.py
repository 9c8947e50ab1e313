"""``stdp_loihi``: Lava's ``STDPLoihi`` (pair STDP on the Loihi learning engine), in hardware units.

``dw = learning_rate * A_minus * x0 * y1 + learning_rate * A_plus * y0 * x1`` with every float
written as Lava's ``(m) * 2 ^ e`` literal (so it is quantized exactly as Lava quantizes it); x1 is
the pre trace (impulse ``x1_impulse``, time constant ``tau_plus`` steps), y1 the post trace
(``y1_impulse``, ``tau_minus``). ``A_minus`` is usually negative (depression). Runs on the
learning engine only (emulator, Lava), like :mod:`neuromap.plasticity.loihi`.
"""
from __future__ import annotations

from neuromap.learning_rules import stdp_loihi
from neuromap.params import Param
from neuromap.plasticity.loihi import COMMON, HardwareRule, _located


class Rule(HardwareRule):
    """STDPLoihi parameters (see module docstring)."""

    name = "stdp_loihi"
    PARAMS = {
        "learning_rate": Param(unit="", doc="overall scale of weight changes"),
        "A_plus": Param(unit="", doc="potentiation factor (post spike after pre: y0 * x1 term)"),
        "A_minus": Param(unit="", doc="depression factor (pre spike after post: x0 * y1 term; negative to depress)"),
        "tau_plus": Param(lo=0.0, unit="steps", doc="pre trace x1 decay time constant"),
        "tau_minus": Param(lo=0.0, unit="steps", doc="post trace y1 decay time constant"),
        "x1_impulse": Param(16.0, lo=0.0, hi=127.0, unit="trace", doc="pre trace increment per spike"),
        "y1_impulse": Param(16.0, lo=0.0, hi=127.0, unit="trace", doc="post trace increment per spike"),
        **COMMON,
    }

    @classmethod
    def learning_config(cls, params, hw, field):
        kw = {k: float(params[k]) for k in ("learning_rate", "A_plus", "A_minus", "tau_plus", "tau_minus",
                                            "x1_impulse", "y1_impulse")}
        return _located(lambda: stdp_loihi(**kw, rng_seed=int(params["rng_seed"]), t_epoch=int(params["t_epoch"]),
                                           sign_mode=hw["sign_mode"], num_weight_bits=int(hw["num_weight_bits"])),
                        field)
