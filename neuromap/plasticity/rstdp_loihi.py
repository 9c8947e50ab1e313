"""``rstdp_loihi``: Lava's ``RewardModulatedSTDP`` (three-factor R-STDP on the Loihi learning engine), in
hardware units.

Eligibility (tag_1) ``dt = lr A- x0 y1 + lr A+ y0 x1 - u0 t tau_e`` and weight ``dw = u0 t y2``, every float a
Lava ``(m) * 2 ^ e`` literal; x1 the pre trace (``x1_impulse``, ``tau_plus`` steps), y1 the post neuron's trace
(``y1_impulse``, ``tau_minus`` steps, computed by the post neuron), y2 the third factor (reward). The reward is
host-written: ``reward_value`` to every post neuron in the steps ``reward_start <= step < reward_stop`` (emulator
steps, 0-based), repeated every ``reward_period`` steps when that is > 0. Runs on the learning engine only
(image engine ``loihi3f``, :mod:`neuromap.learning_engines.loihi3f`; docs/learning.md, *Three-factor learning*).
"""
from __future__ import annotations

import numpy as np

from neuromap.errors import NetworkFormatError
from neuromap.learning_engines.loihi3f import ENGINE, VALUE_MAX, VALUE_MIN, rstdp_config
from neuromap.params import Param
from neuromap.plasticity.loihi import COMMON, HardwareRule, _located
from neuromap.plasticity.rstdp import reward_steps

#: longest reward schedule written into an image (events = steps x post neurons)
MAX_REWARD_STEPS = 1 << 20


class Rule(HardwareRule):
    """RewardModulatedSTDP parameters (see module docstring)."""

    name = "rstdp_loihi"
    PARAMS = {
        "learning_rate": Param(1.0, unit="", doc="overall scale of eligibility changes"),
        "A_plus": Param(unit="", doc="potentiation factor (post spike after pre: y0 * x1 term)"),
        "A_minus": Param(unit="", doc="depression factor (pre spike after post: x0 * y1 term; negative to depress)"),
        "tau_plus": Param(lo=0.0, unit="steps", doc="pre trace x1 decay time constant"),
        "tau_minus": Param(lo=0.0, unit="steps", doc="post trace y1 decay time constant (post neuron)"),
        "x1_impulse": Param(16.0, lo=0.0, hi=127.0, unit="trace", doc="pre trace increment per spike"),
        "y1_impulse": Param(16.0, lo=0.0, hi=127.0, unit="trace", doc="post trace increment per spike"),
        "tau_e": Param(0.5, unit="", doc="eligibility decay: tag_1 loses tau_e * tag_1 per epoch (Lava's "
                                         "eligibility_trace_decay_tau, a literal)"),
        "reward_value": Param(0, kind="int", lo=VALUE_MIN, hi=VALUE_MAX, unit="trace",
                              doc="third factor y2 written to every post neuron inside a reward window"),
        "reward_start": Param(0, kind="int", lo=0, unit="steps", doc="first step of the reward window"),
        "reward_stop": Param(0, kind="int", lo=0, unit="steps", doc="end of the reward window (exclusive)"),
        "reward_period": Param(0, kind="int", lo=0, unit="steps", doc="window repeats every so many steps (0: once)"),
        "reward_until": Param(0, kind="int", lo=0, unit="steps", doc="with a period: no windows from this step on"),
        **COMMON,
    }

    @classmethod
    def learning_config(cls, params, hw, field):
        kw = dict(learning_rate=float(params["learning_rate"]), A_plus=float(params["A_plus"]),
                  A_minus=float(params["A_minus"]), pre_trace_decay_tau=float(params["tau_plus"]),
                  pre_trace_kernel_magnitude=float(params["x1_impulse"]),
                  eligibility_trace_decay_tau=float(params["tau_e"]))
        return _located(lambda: rstdp_config(**kw, rng_seed=int(params["rng_seed"]), t_epoch=int(params["t_epoch"]),
                                             sign_mode=hw["sign_mode"], num_weight_bits=int(hw["num_weight_bits"])),
                        field)

    @classmethod
    def to_image(cls, params, hw, field):
        cfg = cls.learning_config(params, hw, field)
        learning = {"engine": ENGINE, **cfg.to_dict(), "post_impulse": float(params["y1_impulse"]),
                    "post_tau": float(params["tau_minus"])}
        if float(params["tau_minus"]) <= 0:
            raise NetworkFormatError("must be > 0 (the post neuron's y1 decays by exp(-1/tau_minus))",
                                     field=f"{field}.tau_minus")
        steps = reward_steps(params)
        if steps.size > MAX_REWARD_STEPS:
            raise NetworkFormatError(f"{steps.size} reward steps", field=f"{field}.reward_until",
                                     fix=f"keep at most {MAX_REWARD_STEPS}")
        value = int(params["reward_value"])
        if value == 0 or steps.size == 0:
            return learning, {}
        return learning, {"third_factor_step": steps + 1,            # Lava time step = emulator step + 1
                          "third_factor_post": np.full(steps.size, -1, np.int64),   # every post neuron
                          "third_factor_value": np.full(steps.size, value, np.int64)}
