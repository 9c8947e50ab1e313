"""The synapse graph placement works on: plain arrays, one entry per neuron and per synapse.

Neurons carry global ids ``0..n_neurons-1`` in population order (the order of
``network.populations``), so "sequential" placement is simply id order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from neuromap.counting_sort import stable_order
from neuromap.placement.joins import network_join_parent


@dataclass(frozen=True)
class SynapseGraph:
    """Synapses as aligned arrays over global neuron ids.

    ``pre``/``post``: global ids, length n_synapses (int64; int32 from :meth:`from_network` when every id
    fits: cast to int64 before arithmetic that can pass 2**31, e.g. ``pre * n_neurons + post``).
    ``delay``: integer steps (>= 1; int8 or int16 when every delay fits, from :meth:`from_network`).
    ``weight_bits``: int8 stored weight mantissa bits per synapse (the projection's ``num_weight_bits``; 0 = the
    target's maximum). ``plastic``: bool, synapse is learned on chip. From :meth:`from_network` these two are
    read-only broadcast views of one value when every projection has the same (treat every array as read-only).
    ``population``: int32 population index per neuron;
    ``population_names`` names them.

    Input axons (:mod:`neuromap.capacity`): synapses with the same ``axon_source`` (int64, one id per
    (projection, pre neuron) pair, numbered ``0..len(source_pre)-1``) share one input axon on each core
    they reach; ``source_pre`` (int64) is the pre neuron of every such id. Built without projections
    (:meth:`from_arrays` with no ``projection``), every pre neuron is one axon source.

    ``join_parent`` (int64 per neuron, or None without joins): -1, or the root compartment neuron i joins; a join
    group stays on one core (:mod:`.joins`).
    """

    n_neurons: int
    pre: np.ndarray
    post: np.ndarray
    delay: np.ndarray
    weight_bits: np.ndarray
    plastic: np.ndarray
    population: np.ndarray
    population_names: tuple[str, ...] = ()
    axon_source: np.ndarray | None = None
    source_pre: np.ndarray | None = None
    join_parent: np.ndarray | None = None

    def __post_init__(self):
        if self.axon_source is None:
            object.__setattr__(self, "axon_source", self.pre)
            object.__setattr__(self, "source_pre", np.arange(self.n_neurons, dtype=np.int64))

    @property
    def n_synapses(self) -> int:
        return int(self.pre.shape[0])

    @staticmethod
    def from_arrays(n_neurons: int, pre, post, delay=None, weight_bits=None, plastic=None,
                    population=None, population_names=(), projection=None, join_parent=None) -> "SynapseGraph":
        """Build from arrays; omitted ``delay`` = 1, ``weight_bits`` = 0 (target max),
        ``plastic`` = False, ``population`` = all 0, ``projection`` (int per synapse) = all 0:
        synapses of different projections from one pre neuron use different input axons;
        ``join_parent`` (per neuron, -1 = root): join groups (:mod:`.joins`)."""
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
        src = sp = None
        if projection is not None:
            projection = np.asarray(projection, np.int64)
            if projection.shape[0] != s:
                raise ValueError("projection must have one entry per synapse")
            key = projection * int(n_neurons) + pre
            uniq, src = np.unique(key, return_inverse=True)
            sp = uniq % int(n_neurons)
        jp = None if join_parent is None or not np.any(np.asarray(join_parent) >= 0) \
            else np.asarray(join_parent, np.int64)
        return SynapseGraph(int(n_neurons), pre, post, delay, weight_bits, plastic, population, names, src, sp, jp)

    @staticmethod
    def from_network(network) -> "SynapseGraph":
        """Concatenate a :class:`neuromap.network.Network`'s projections over global ids.

        Repeated (pre, post) pairs of one projection are one synapse (the image merges them);
        ``axon_source`` numbers each projection's pre neurons after the previous projection's."""
        offset, start = 0, {}
        names, sizes = [], []
        for name, pop in network.populations.items():
            start[name] = offset
            names.append(name)
            sizes.append(pop.size)
            offset += pop.size
        parts = [distinct_pairs(pr, network.populations[pr.post].size) for pr in network.projections]
        S = sum(p[0].size for p in parts)
        n_src = sum(network.populations[pr.pre].size for pr in network.projections)
        dmax = max((int(p[2].max()) for p in parts if p[2].size), default=1)
        # filled in place, no concatenated copies; ids, delays and axon sources in the narrowest dtype
        ids = np.int32 if offset < 2 ** 31 else np.int64
        pre, post = np.empty(S, ids), np.empty(S, ids)
        delay = np.empty(S, np.int8 if dmax < 2 ** 7 else np.int16 if dmax < 2 ** 15 else np.int64)
        # weight widths and plasticity are per projection: one read-only broadcast value when every projection
        # has the same (no byte per synapse each; at the microcircuit's full scale 0.47 billion synapses)
        bits_of = [int((pr.hw or {}).get("num_weight_bits", 0) or 0) for pr in network.projections]
        plastic_of = [is_plastic(pr) for pr in network.projections]
        wbits = np.broadcast_to(np.int8(bits_of[0] if bits_of else 0), (S,)) if len(set(bits_of)) <= 1 \
            else np.empty(S, np.int8)
        plastic = np.broadcast_to(np.bool_(plastic_of[0] if plastic_of else False), (S,)) \
            if len(set(plastic_of)) <= 1 else np.empty(S, bool)
        src = np.empty(S, np.int32 if n_src < 2 ** 31 else np.int64)
        src_pre = np.empty(n_src, np.int64)
        off = base = 0
        for pr, (p_loc, q_loc, d) in zip(network.projections, parts):
            e = off + p_loc.size
            n_pre = network.populations[pr.pre].size
            np.add(p_loc, np.int64(start[pr.pre]), out=pre[off:e], casting="unsafe")   # ids < 2**31 when int32
            np.add(q_loc, np.int64(start[pr.post]), out=post[off:e], casting="unsafe")
            delay[off:e] = d
            if wbits.flags.writeable:
                wbits[off:e] = int((pr.hw or {}).get("num_weight_bits", 0) or 0)
            if plastic.flags.writeable:
                plastic[off:e] = is_plastic(pr)
            src[off:e] = p_loc
            src[off:e] += base
            src_pre[base:base + n_pre] = np.arange(start[pr.pre], start[pr.pre] + n_pre)
            off, base = e, base + n_pre
        del parts
        population = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        if S and (min(pre.min(), post.min()) < 0 or max(pre.max(), post.max()) >= offset):
            raise ValueError("neuron id out of range")
        return SynapseGraph(offset, pre, post, delay, wbits, plastic, population, tuple(names), src, src_pre,
                            network_join_parent(network))

    def subgraph_order(self) -> np.ndarray:
        """Synapse indices sorted by (post, pre): synapses of a contiguous post range are contiguous."""
        return np.lexsort((self.pre, self.post))


def distinct_pairs(proj, n_post: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pre, post, delay) of a projection with repeated (pre, post) pairs kept once (population-local
    ids, in the projection's dtypes). O(synapses) when the synapses are in the usual post-major order without repeats;
    otherwise one sort. The delay of a repeated pair is its first synapse's."""
    pre = np.asarray(proj.pre_idx)           # as stored (int32 from Network.connect): no int64 copies
    post = np.asarray(proj.post_idx)
    d = np.asarray(proj.delay)
    n_pre = int(pre.max(initial=-1)) + 1
    if pre.size < 2 or pairs_increasing(post, pre, max(n_pre, 1)):
        return pre, post, d
    perm, starts = sorted_groups(post, int(n_post), pre, max(n_pre, 1))
    first = perm[starts]
    del perm, starts
    return pre[first], post[first], d[first]


def sorted_groups(major: np.ndarray, n_major: int, minor: np.ndarray, n_minor: int) -> tuple[np.ndarray, np.ndarray]:
    """Items sorted by (``major``, ``minor``), stably (two counting sorts, O(n + n_major + n_minor)), and the
    positions in that order where a new (major, minor) pair starts: ``perm[starts]`` are the first
    occurrences of the distinct pairs in pair order -- what ``np.unique(major * n_minor + minor,
    return_index=True)`` gives, without a comparison sort."""
    n = int(major.shape[0])
    perm = stable_order([(minor, int(n_minor)), (major, int(n_major))], n)
    return perm, _starts(perm, major, minor)


@numba.njit(cache=True)
def pairs_increasing(post, pre, n_pre):  # pragma: no cover - compiled
    """Every key ``post * n_pre + pre`` larger than the one before."""
    last = post[0] * n_pre + pre[0]
    for i in range(1, post.shape[0]):
        k = post[i] * n_pre + pre[i]
        if k <= last:
            return False
        last = k
    return True


@numba.njit(cache=True)
def _starts(perm, major, minor):  # pragma: no cover - compiled
    n = perm.shape[0]
    m = 0
    for i in range(n):
        if i == 0 or major[perm[i]] != major[perm[i - 1]] or minor[perm[i]] != minor[perm[i - 1]]:
            m += 1
    out = np.empty(m, np.int64)
    m = 0
    for i in range(n):
        if i == 0 or major[perm[i]] != major[perm[i - 1]] or minor[perm[i]] != minor[perm[i - 1]]:
            out[m] = i
            m += 1
    return out


def is_plastic(proj) -> bool:
    """A projection learns on chip: a plasticity rule, or an integer learning engine set by quantize."""
    return proj.plasticity is not None or bool((proj.hw or {}).get("learning"))
