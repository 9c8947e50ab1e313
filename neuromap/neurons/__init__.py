"""Neuron models: one module per model, each declaring ``PARAMS`` (schema) and ``STATE`` (probe-able variables).

Float models (``lif``, ``if``, ``izhikevich``, ``eif``) and inputs (``poisson``,
``spike_source``) are simulated by :func:`neuromap.simulate`; hardware-unit
models (``loihi_lif``, ``truenorth``) describe cores directly.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from neuromap.errors import NetworkFormatError

#: model name -> module implementing it
NEURON_MODULES: dict[str, str] = {
    "lif": "neuromap.neurons.lif",
    "if": "neuromap.neurons.if_",
    "izhikevich": "neuromap.neurons.izhikevich",
    "eif": "neuromap.neurons.eif",
    "poisson": "neuromap.neurons.poisson",
    "spike_source": "neuromap.neurons.spike_source",
    "loihi_lif": "neuromap.neurons.loihi_lif",
    "truenorth": "neuromap.neurons.truenorth",
    "adex": "neuromap.neurons.adex",
    "two_compartment": "neuromap.neurons.two_compartment",
}

#: models that are spike inputs (no synaptic input, no dynamics to integrate)
INPUT_MODELS = ("poisson", "spike_source")


def neuron_module(model: str, field: str = "neuron.model") -> ModuleType:
    """The module of ``model``; unknown model -> one-line NetworkFormatError naming ``field``."""
    if model not in NEURON_MODULES:
        raise NetworkFormatError(f"unknown neuron model {model!r}", field=field,
                                 fix="use one of " + ", ".join(NEURON_MODULES))
    return importlib.import_module(NEURON_MODULES[model])
