"""The synapse graph placement works on: plain arrays, one entry per neuron and per synapse.

Neurons carry global ids ``0..n_neurons-1`` in population order (the order of
``network.populations``), so "sequential" placement is simply id order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SynapseGraph:
    """Synapses as aligned arrays over global neuron ids.

    ``pre``/``post``: int64 global ids, length n_synapses. ``delay``: int64 steps
    (>= 1). ``weight_bits``: int8 stored weight mantissa bits per synapse (the
    projection's ``num_weight_bits``; 0 = the target's maximum). ``plastic``: bool,
    synapse is learned on chip. ``population``: int32 population index per neuron;
    ``population_names`` names them.
    """

    n_neurons: int
    pre: np.ndarray
    post: np.ndarray
    delay: np.ndarray
    weight_bits: np.ndarray
    plastic: np.ndarray
    population: np.ndarray
    population_names: tuple[str, ...] = ()

    @property
    def n_synapses(self) -> int:
        return int(self.pre.shape[0])

    @staticmethod
    def from_arrays(n_neurons: int, pre, post, delay=None, weight_bits=None, plastic=None,
                    population=None, population_names=()) -> "SynapseGraph":
        """Build from arrays; omitted ``delay`` = 1, ``weight_bits`` = 0 (target max),
        ``plastic`` = False, ``population`` = all 0."""
        pre = np.asarray(pre, dtype=np.int64)
        post = np.asarray(post, dtype=np.int64)
        s = pre.shape[0]
        if post.shape[0] != s:
            raise ValueError("pre and post must have the same length")
        if s and (min(pre.min(), post.min()) < 0 or max(pre.max(), post.max()) >= n_neurons):
            raise ValueError("neuron id out of range")
        delay = np.ones(s, np.int64) if delay is None else np.asarray(delay, np.int64)
        weight_bits = np.zeros(s, np.int8) if weight_bits is None else np.asarray(weight_bits, np.int8)
        plastic = np.zeros(s, bool) if plastic is None else np.asarray(plastic, bool)
        population = (np.zeros(n_neurons, np.int32) if population is None
                      else np.asarray(population, np.int32))
        names = tuple(population_names) or tuple(f"p{i}" for i in range(int(population.max(initial=-1)) + 1))
        return SynapseGraph(int(n_neurons), pre, post, delay, weight_bits, plastic, population, names)

    @staticmethod
    def from_network(network) -> "SynapseGraph":
        """Concatenate a :class:`neuromap.network.Network`'s projections over global ids."""
        offset, start = 0, {}
        names, sizes = [], []
        for name, pop in network.populations.items():
            start[name] = offset
            names.append(name)
            sizes.append(pop.size)
            offset += pop.size
        pre, post, delay, wbits, plastic = [], [], [], [], []
        for proj in network.projections:
            pre.append(np.asarray(proj.pre_idx, np.int64) + start[proj.pre])
            post.append(np.asarray(proj.post_idx, np.int64) + start[proj.post])
            delay.append(np.asarray(proj.delay, np.int64))
            bits = int((proj.hw or {}).get("num_weight_bits", 0) or 0)
            wbits.append(np.full(proj.n_synapses, bits, np.int8))
            plastic.append(np.full(proj.n_synapses, proj.plasticity is not None, bool))
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
        population = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        return SynapseGraph.from_arrays(offset, cat(pre, np.int64), cat(post, np.int64),
                                        cat(delay, np.int64), cat(wbits, np.int8),
                                        cat(plastic, bool), population, names)

    def subgraph_order(self) -> np.ndarray:
        """Synapse indices sorted by (post, pre): synapses of a contiguous post range are contiguous."""
        return np.lexsort((self.pre, self.post))
