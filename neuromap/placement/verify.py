"""The placement checker: every capacity violation of an assignment, counted by :mod:`neuromap.capacity`.

It shares the one capacity accounting with packing, ``inspect`` and the image verifier (so they
cannot disagree) and lists the input axons in O(synapses) (:func:`neuromap.placement.usage.graph_input_axons`).
The image verifier (:meth:`neuromap.image.Image.verify`) recounts the same resources from the
lowered image's own arrays, so a placement that the lowering turns into a different set of axons is
caught there. ``tests/helpers/capacity_oracle.py`` holds an independent plain-Python recount that the tests
compare with this one on random graphs.
"""
from __future__ import annotations

import numpy as np

from neuromap.capacity import CoreLimits, Violation, count, violations
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.usage import graph_input_axons
from neuromap.targets import Target

__all__ = ["Violation", "verify_assignment", "verify_graph"]


def verify_assignment(n_neurons: int, pre, post, core_of, target: Target, delay=None,
                      weight_bits=None, plastic=None, projection=None) -> list[Violation]:
    """All capacity violations of assigning neuron i to core ``core_of[i]``; [] = valid.

    Synapse arrays as in :meth:`SynapseGraph.from_arrays` (``projection``: projection index per
    synapse; synapses of different projections use different input axons). Checks neurons,
    input-axon slots, output axons, per-neuron fan-out cores and nengo-loihi synapse memory per core.
    """
    core_of = np.asarray(core_of, np.int64)
    if core_of.shape != (n_neurons,) or (core_of.size and core_of.min() < 0):
        raise ValueError("core_of must give a core id >= 0 for every neuron")
    g = SynapseGraph.from_arrays(n_neurons, pre, post, delay, weight_bits, plastic, projection=projection)
    return verify_graph(g, core_of, target)


def verify_graph(graph: SynapseGraph, core_of, target: Target) -> list[Violation]:
    """:func:`verify_assignment` for a :class:`~neuromap.placement.graph.SynapseGraph`."""
    core_of = np.asarray(core_of, np.int64)
    if core_of.shape != (graph.n_neurons,) or (core_of.size and core_of.min() < 0):
        raise ValueError("core_of must give a core id >= 0 for every neuron")
    n_cores = int(core_of.max(initial=-1)) + 1
    axons = graph_input_axons(graph, core_of, target, n_cores)
    limits = CoreLimits.from_target(target)
    return violations(count(limits, n_cores, core_of, axons), limits)
