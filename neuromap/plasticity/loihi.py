"""``loihi``: a Loihi 2-factor learning rule in hardware units, written in Lava's rule syntax.

Runs on the on-chip learning engine only (compile for ``loihi``; the emulator and the Lava backend
run it bit-identically to Lava 0.10.0 ``LearningDense``/``LearningSparse``); the float reference
simulator refuses it. Parameters are those of Lava's ``Loihi2FLearningRule``: rule strings
``dw``/``dd``/``dt`` (e.g. ``"2^-2 * x1 * y0 - 2^-2 * y1 * x0"``), trace impulses (per spike,
integer part + 8-bit fraction) and decay time constants in steps (0 = no decay memory), the
learning epoch ``t_epoch`` (steps, 6 bit) and ``rng_seed`` of the trace random streams. The
projection's ``sign_mode`` and ``num_weight_bits`` complete the :class:`LearningConfig`.
Semantics, bit widths and order of operations: docs/learning.md.
"""
from __future__ import annotations

from typing import Any

from neuromap.errors import NetworkFormatError, TargetError
from neuromap.learning_rules import MAX_T_EPOCH, LearningConfig, config_from_rules
from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule

#: learning-engine name stored in the image (``ProjectionMap.learning["engine"]``)
IMAGE_ENGINE = "loihi"

_TRACES = ("x1", "x2", "y1", "y2", "y3")
#: parameters shared with ``stdp_loihi``
COMMON = {
    "t_epoch": Param(1, kind="int", lo=1, hi=MAX_T_EPOCH, unit="steps",
                     doc="learning epoch: rules apply every t_epoch steps (6 bit)"),
    "rng_seed": Param(0, kind="int", lo=0, unit="", doc="seed of the trace random streams (seed .. seed+3)"),
}


class HardwareRule(PlasticityRule):
    """Base of the rules that exist only in hardware units (the float simulator refuses them)."""

    hardware_units = True

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        raise TargetError(f"plasticity rule {self.name!r} is in hardware units and runs only on the learning "
                          "engine: compile for target loihi and run the image on the emulator or in Lava "
                          "(`neuromap run` / `neuromap validate`); the float reference simulator cannot run it")

    @classmethod
    def learning_config(cls, params: dict[str, Any], hw: dict[str, Any], field: str) -> LearningConfig:
        """The :class:`LearningConfig` of validated ``params`` on a projection with hardware options ``hw``;
        a bad rule raises a one-line NetworkFormatError naming ``field.<param>``."""
        raise NotImplementedError

    @classmethod
    def to_image(cls, params: dict[str, Any], hw: dict[str, Any], field: str) -> tuple[dict, dict]:
        """(``ProjectionMap.learning`` dict, ``learning_arrays``) for the image."""
        return {"engine": IMAGE_ENGINE, **cls.learning_config(params, hw, field).to_dict()}, {}


def _located(fn, field: str):
    try:
        return fn()
    except NetworkFormatError as e:
        raise e.located(prefix=field) from None


class Rule(HardwareRule):
    """Lava-syntax rule strings (see module docstring)."""

    name = "loihi"
    PARAMS = {
        "dw": Param(None, kind="str", doc="weight rule, Lava syntax (e.g. 2^-2 * x1 * y0 - 2^-2 * y1 * x0)"),
        "dd": Param(None, kind="str", doc="delay-tag (tag_2) rule, Lava syntax"),
        "dt": Param(None, kind="str", doc="tag (tag_1) rule, Lava syntax"),
        **{f"{tr}_{kind}": Param(0.0, lo=0.0, hi=127.0 if kind == "impulse" else None,
                                 unit="trace" if kind == "impulse" else "steps",
                                 doc=f"{tr} trace "
                                     f"{'increment per spike' if kind == 'impulse' else 'decay time constant'}")
           for tr in _TRACES for kind in ("impulse", "tau")},
        **COMMON,
    }

    @classmethod
    def learning_config(cls, params, hw, field):
        rules = {k: params[k] for k in ("dw", "dd", "dt") if params.get(k) is not None}
        if not rules:
            raise NetworkFormatError("no learning rule given", field=f"{field}.dw",
                                     fix='give dw (and/or dd, dt) in Lava syntax, '
                                         'e.g. "2^-2 * x1 * y0 - 2^-2 * y1 * x0"')
        scal = {f"{tr}_{kind}": float(params[f"{tr}_{kind}"]) for tr in _TRACES for kind in ("impulse", "tau")}
        return _located(lambda: config_from_rules(**rules, rng_seed=int(params["rng_seed"]),
                                                  t_epoch=int(params["t_epoch"]), sign_mode=hw["sign_mode"],
                                                  num_weight_bits=int(hw["num_weight_bits"]), **scal), field)
