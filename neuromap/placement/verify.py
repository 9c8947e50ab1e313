"""Independent capacity verifier: recomputes every core's usage with plain Python sets and dicts.

Shares no code with :mod:`neuromap.placement.usage` (the partitioner's fast,
vectorized accounting) on purpose: tests and the image checker use this one to catch
bugs in the other. Slow (pure Python), meant for tests and moderate networks.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from neuromap.targets import Target


@dataclass(frozen=True)
class Violation:
    """One exceeded capacity: ``core``, ``resource`` name, ``used`` and ``limit``."""

    core: int
    resource: str
    used: int
    limit: int

    def __str__(self) -> str:
        return f"core {self.core}: {self.resource} {self.used} > {self.limit}"


def _pick(options, need):
    for o in options:
        if o >= need:
            return o
    raise ValueError(f"no field width >= {need} in {options}")


def verify_assignment(n_neurons: int, pre, post, core_of, target: Target, delay=None,
                      weight_bits=None, plastic=None) -> list[Violation]:
    """All capacity violations of assigning neuron i to core ``core_of[i]``; [] = valid.

    Synapse arrays as in :class:`~neuromap.placement.graph.SynapseGraph` (plain
    sequences are fine). Checks neurons, input-axon slots, output axons, per-neuron
    fan-out cores and nengo-loihi synapse memory per core.
    """
    core_of = [int(c) for c in core_of]
    if len(core_of) != n_neurons or min(core_of, default=0) < 0:
        raise ValueError("core_of must give a core id >= 0 for every neuron")
    pre, post = [int(x) for x in pre], [int(x) for x in post]
    ns = len(pre)
    delay = [1] * ns if delay is None else [int(x) for x in delay]
    weight_bits = [0] * ns if weight_bits is None else [int(x) for x in weight_bits]
    plastic = [False] * ns if plastic is None else [bool(x) for x in plastic]
    cs, sm, syn = target.core, target.synapse_memory, target.synapse

    members = defaultdict(int)
    for c in core_of:
        members[c] += 1
    # input axon (pre, core) -> list of synapse indices
    axons: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i in range(ns):
        axons[(pre[i], core_of[post[i]])].append(i)
    in_slots = defaultdict(int)
    mem = defaultdict(int)
    targets_of = defaultdict(set)
    for (p, c), syns in axons.items():
        learn = any(plastic[i] for i in syns)
        in_slots[c] += cs.plastic_axon_slots if learn else 1
        targets_of[p].add(c)
        if cs.memory_model == "nengo_loihi":
            need_w = max(weight_bits[i] or syn.weight_bits_max for i in syns)
            bits = _pick(sm.weight_bits, need_w)
            bits += sm.delay_bits if any(delay[i] > syn.delay_min for i in syns) else 0
            bits += sm.tag_bits if learn else 0
            bits += _pick(sm.index_bits, math.ceil(math.log2(max(members[c], 1))))
            left = len(syns)
            while left > 0:
                k = min(left, sm.synapses_per_group)
                mem[c] += math.ceil((k * bits + sm.group_header_bits) / sm.word_bits) * sm.word_bits
                left -= k
    out = defaultdict(int)
    fan = defaultdict(int)
    for p, cores in targets_of.items():
        out[core_of[p]] += len(cores)
        fan[core_of[p]] = max(fan[core_of[p]], len(cores))

    found = []
    for c in sorted(members):
        checks = [("neurons", members[c], cs.max_neurons),
                  ("input_axons", in_slots[c], cs.max_input_axons)]
        if cs.max_output_axons:
            checks.append(("output_axons", out[c], cs.max_output_axons))
        if syn.max_fan_out_cores:
            checks.append(("fan_out_cores", fan[c], syn.max_fan_out_cores))
        if cs.memory_model == "nengo_loihi":
            checks.append(("synapse_memory_bits", mem[c], cs.synapse_memory_bits))
        found += [Violation(c, r, u, lim) for r, u, lim in checks if u > lim]
    return found


def verify_graph(graph, core_of, target: Target) -> list[Violation]:
    """:func:`verify_assignment` for a :class:`~neuromap.placement.graph.SynapseGraph`."""
    return verify_assignment(graph.n_neurons, graph.pre, graph.post, np.asarray(core_of), target,
                             graph.delay, graph.weight_bits, graph.plastic)
