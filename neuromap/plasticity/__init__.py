"""Plasticity rules of the float reference simulator: one module per rule, each defining ``Rule``
(a :class:`neuromap.plasticity.base.PlasticityRule` subclass with ``PARAMS``)."""
from __future__ import annotations

import importlib

from neuromap.errors import NetworkFormatError
from neuromap.plasticity.base import PlasticityRule

#: rule name -> module defining ``Rule``
RULE_MODULES: dict[str, str] = {
    "stdp": "neuromap.plasticity.stdp",
    "nn_stdp": "neuromap.plasticity.nn_stdp",
    "homeostatic_stdp": "neuromap.plasticity.homeostatic_stdp",
    "pool_stdp": "neuromap.plasticity.pool_stdp",
    "vogels_isp": "neuromap.plasticity.vogels_isp",
    "pool_esn": "neuromap.controllers.esn_pool",
    "clopath": "neuromap.plasticity.clopath",
    "urbanczik_senn": "neuromap.plasticity.urbanczik_senn",
    "loihi": "neuromap.plasticity.loihi",
    "stdp_loihi": "neuromap.plasticity.stdp_loihi",
    "rstdp_loihi": "neuromap.plasticity.rstdp_loihi",
    "rstdp": "neuromap.plasticity.rstdp",
}


def rule_class(rule: str, field: str = "plasticity.rule") -> type[PlasticityRule]:
    """The ``Rule`` class of ``rule``; unknown rule -> one-line NetworkFormatError naming ``field``."""
    if rule not in RULE_MODULES:
        raise NetworkFormatError(f"unknown plasticity rule {rule!r}", field=field,
                                 fix="use one of " + ", ".join(RULE_MODULES))
    return importlib.import_module(RULE_MODULES[rule]).Rule


def hardware_rules() -> tuple[str, ...]:
    """Rules the on-chip learning engine runs: their ``Rule`` has ``to_image`` (hardware units)."""
    return tuple(r for r in RULE_MODULES if hasattr(rule_class(r), "to_image"))
