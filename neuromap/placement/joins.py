"""Join groups: a dendrite compartment and the soma it joins stay on one core (docs/placement.md, *Joins*).

Loihi combines a dendrite's state into its soma's input inside one core (a multi-compartment neuron is a tree of
compartments of one core; docs/image-format.md, *Compartments*). A graph's ``join_parent`` (int64 per neuron: -1,
or the id of the root compartment neuron i joins) makes a *join group* of each root and its dendrite. Every
partition method keeps each group on one core: packing (``sequential``, ``greedy``, ``tiles``) moves a group's
members next to each other in its order and never cuts a core inside a group (:func:`unit_order`), CP-SAT ties
their core variables, and :func:`first_split` finds a group that crosses cores (the place pass's verifier and the
image verifier reject it).
"""
from __future__ import annotations

import numpy as np

INPUT_MODELS = ("spike_source", "poisson")


def network_join_parent(network, inputs: bool = True) -> np.ndarray | None:
    """``join_parent`` over the network's neurons in population order (inputs counted when ``inputs``, as in
    :meth:`~.graph.SynapseGraph.from_network`; without them as the image numbers neurons), from the populations'
    ``join`` parameter (the soma population's name; neuron i joins its neuron i). None without a join.
    A malformed join (unknown or differently sized soma) is left to the lowering's one-line error."""
    start, off = {}, 0
    for name, pop in network.populations.items():
        if inputs or pop.model not in INPUT_MODELS:
            start[name] = off
            off += pop.size
    out = None
    for name, pop in network.populations.items():
        soma = pop.neuron.get("join", "") if isinstance(pop.neuron, dict) else ""
        if not soma or name not in start or soma not in start or network.populations[soma].size != pop.size:
            continue
        if out is None:
            out = np.full(off, -1, np.int64)
        out[start[name]:start[name] + pop.size] = start[soma] + np.arange(pop.size)
    return out


def unit_order(order: np.ndarray, join_parent: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(``order`` with each join group's members moved together, at the place of the member that comes first in
    ``order``, root first; ``unit_end``: for the first position i of a group, the position after its last member).
    Without joins ``order`` itself and ``unit_end[i] = i + 1``."""
    order = np.asarray(order, np.int64)
    n = order.shape[0]
    if join_parent is None:
        return order, np.arange(1, n + 1, dtype=np.int64)
    jp = np.asarray(join_parent, np.int64)
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    kids = np.flatnonzero(jp >= 0)
    first = pos.copy()
    first[jp[kids]] = np.minimum(pos[kids], pos[jp[kids]])
    root = np.arange(n, dtype=np.int64)
    root[kids] = jp[kids]
    new = np.lexsort((jp >= 0, first[root]))          # groups at their first member's place, root first
    key = first[root][new]
    cuts = np.flatnonzero(np.diff(key)) + 1
    bounds = np.concatenate([[0], cuts, [n]]).astype(np.int64)
    unit_end = np.arange(1, n + 1, dtype=np.int64)
    unit_end[bounds[:-1]] = bounds[1:]
    return new.astype(np.int64), unit_end


def roots(join_parent: np.ndarray, n: int) -> np.ndarray:
    """The root compartment (group id) of every neuron: its join parent, else itself."""
    r = np.arange(n, dtype=np.int64)
    if join_parent is not None:
        jp = np.asarray(join_parent, np.int64)
        r = np.where(jp >= 0, jp, r)
    return r


def first_split(join_parent: np.ndarray | None, core_of: np.ndarray) -> int:
    """The first dendrite whose core differs from its root's in ``core_of`` (ids < 0 = not placed: skipped), else
    -1."""
    if join_parent is None:
        return -1
    jp = np.asarray(join_parent, np.int64)
    core_of = np.asarray(core_of, np.int64)
    kids = np.flatnonzero(jp >= 0)
    bad = kids[(core_of[kids] != core_of[jp[kids]]) & (core_of[kids] >= 0) & (core_of[jp[kids]] >= 0)]
    return int(bad[0]) if bad.size else -1


__all__ = ["first_split", "network_join_parent", "roots", "unit_order"]
