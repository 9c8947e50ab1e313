"""Plain-Python recount of per-core resources (docs/targets.md capacity model), written from the
documentation with sets and dicts and sharing no code with :mod:`neuromap.capacity`; the tests compare
the vectorized accounting with it on random graphs. Slow: small inputs only."""
from __future__ import annotations

import math
from collections import defaultdict


def _pick(options, need):
    for o in sorted(options):
        if o >= need:
            return o
    raise ValueError(f"no field width >= {need} in {options}")


def recount(n_neurons, pre, post, core_of, target, delay=None, weight_bits=None, plastic=None,
            projection=None) -> dict[tuple[int, str], int]:
    """{(core, resource): used} for every core holding a neuron and every resource the target limits."""
    ns = len(pre)
    delay = [1] * ns if delay is None else [int(x) for x in delay]
    weight_bits = [0] * ns if weight_bits is None else [int(x) for x in weight_bits]
    plastic = [False] * ns if plastic is None else [bool(x) for x in plastic]
    projection = [0] * ns if projection is None else [int(x) for x in projection]
    core_of = [int(c) for c in core_of]
    cs, sm, syn = target.core, target.synapse_memory, target.synapse
    members = defaultdict(int)
    for c in core_of:
        members[c] += 1
    axons = defaultdict(set)            # (core, projection, pre) -> distinct posts
    syns = defaultdict(list)
    for i in range(ns):
        key = (core_of[int(post[i])], projection[i], int(pre[i]))
        axons[key].add(int(post[i]))
        syns[key].append(i)
    slots, out, mem = defaultdict(int), defaultdict(int), defaultdict(int)
    cores_of_src = defaultdict(set)
    for (c, _, p), posts in axons.items():
        learn = any(plastic[i] for i in syns[(c, _, p)])
        slots[c] += cs.plastic_axon_slots if learn else 1
        out[core_of[p]] += 1
        cores_of_src[p].add(c)
        if cs.memory_model == "nengo_loihi":
            idx = syns[(c, _, p)]
            bits = _pick(sm.weight_bits, max(weight_bits[i] or syn.weight_bits_max for i in idx))
            bits += sm.delay_bits if any(delay[i] > syn.delay_min for i in idx) else 0
            bits += sm.tag_bits if learn else 0
            bits += _pick(sm.index_bits, math.ceil(math.log2(max(members[c], 1))))
            left = len(posts)
            while left > 0:
                k = min(left, sm.synapses_per_group)
                mem[c] += math.ceil((k * bits + sm.group_header_bits) / sm.word_bits) * sm.word_bits
                left -= k
    fan = defaultdict(int)
    for p, cores in cores_of_src.items():
        fan[core_of[p]] = max(fan[core_of[p]], len(cores))
    res = {}
    for c in members:
        res[(c, "neurons")] = members[c]
        res[(c, "input_axons")] = slots[c]
        if cs.max_output_axons:
            res[(c, "output_axons")] = out[c]
        if syn.max_fan_out_cores:
            res[(c, "fan_out_cores")] = fan[c]
        if cs.memory_model == "nengo_loihi":
            res[(c, "synapse_memory_bits")] = mem[c]
    return res
