"""The archiving node: a postsynaptic history that event-driven voltage-based rules read (seeds 001, 002).

Stapmanns et al. (seed 001): the postsynaptic neuron stores a time trace of (a
function of) its membrane potential; a synapse reads the part it has not yet
seen when its presynaptic spike is delivered and integrates its weight change
over it ("separate summation for each synapse", their Fig. 2A). Here:

``DenseHistory``   one value per post neuron per step (Urbanczik-Senn: the error
                   V*(k) is nonzero at every step), a ring of ``length`` steps.
``SparseHistory``  only the nonzero values (Clopath: the LTP factor is nonzero only
                   while V > theta_+), a ring of ``length`` entries per post neuron
                   with a running entry counter; a synapse remembers the counter
                   value it has read up to (NEST's access counter).
``Arrivals``       which synapses receive a presynaptic spike at the next step (from
                   the pre population's spikes and the per-synapse delays), so a rule
                   can bring those weights up to date before they are delivered.

Both histories answer ``gather``: for a batch of synapses, the flat list of
(segment, step k, value) of the entries each has not yet integrated, so the rule
sums its kernel over them with ``np.bincount`` (vectorized per-synapse summation).
A ring only holds ``length`` steps (entries); rules flush every synapse every
``length`` steps, which keeps every unread window inside the ring.
"""
from __future__ import annotations

import numpy as np


def ranges(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment, value) of the concatenation of arange(starts[i], stops[i])."""
    lens = np.maximum(stops - starts, 0)
    seg = np.repeat(np.arange(lens.size), lens)
    total = int(lens.sum())
    if total == 0:
        return seg, np.zeros(0, np.int64)
    offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return seg, np.arange(total, dtype=np.int64) + offs


class DenseHistory:
    """Value of every post neuron at each of the last ``length`` steps (float64[length, n_post])."""

    def __init__(self, n_post: int, length: int):
        self.length = int(length)
        self.buf = np.zeros((self.length, n_post))
        self.t = -1

    def write(self, t: int, values: np.ndarray) -> None:
        """Store step ``t``'s values (steps must be written in order)."""
        self.buf[t % self.length] = values
        self.t = t

    def gather(self, post: np.ndarray, after: np.ndarray, upto: int):
        """Entries of steps k in (after[i], upto] of neuron post[i]: (segment i, k, value)."""
        if post.size and int(upto - after.min()) > self.length:
            raise ValueError("history window longer than the ring (flush more often)")
        seg, k = ranges(after + 1, np.full(after.shape, upto + 1, np.int64))
        return seg, k, self.buf[k % self.length, post[seg]]


class SparseHistory:
    """Nonzero values only: per post neuron a ring of ``length`` (step, value) entries and an entry counter."""

    def __init__(self, n_post: int, length: int):
        self.length = int(length)
        self.step = np.zeros((n_post, self.length), np.int64)
        self.val = np.zeros((n_post, self.length))
        self.count = np.zeros(n_post, np.int64)   # entries written so far, per post neuron

    def write(self, t: int, values: np.ndarray) -> None:
        """Append (t, value) for every post neuron whose value is nonzero."""
        j = np.flatnonzero(values)
        if j.size:
            slot = self.count[j] % self.length
            self.step[j, slot] = t
            self.val[j, slot] = values[j]
            self.count[j] += 1

    def gather(self, post: np.ndarray, seen: np.ndarray):
        """Entries number seen[i] .. count-1 of neuron post[i]: (segment i, step, value)."""
        stop = self.count[post]
        if post.size and int((stop - seen).max()) > self.length:
            raise ValueError("history window longer than the ring (flush more often)")
        seg, e = ranges(seen, stop)
        j, slot = post[seg], e % self.length
        return seg, self.step[j, slot], self.val[j, slot]


class Arrivals:
    """Synapses whose presynaptic spike arrives at step t+1, from pre spikes of steps t+1-d (d = delay)."""

    def __init__(self, pre_idx: np.ndarray, n_pre: int, syn_delay: np.ndarray | None):
        d = np.ones(pre_idx.size, np.int64) if syn_delay is None else np.asarray(syn_delay, np.int64)
        self.delays, dk = np.unique(d, return_inverse=True)
        self.nd = max(self.delays.size, 1)
        rows = pre_idx * self.nd + dk.reshape(-1)
        self.order = np.argsort(rows, kind="stable")
        self.rowptr = np.zeros(n_pre * self.nd + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n_pre * self.nd), out=self.rowptr[1:])
        self.H = int(self.delays.max()) if self.delays.size else 1
        self.ring: list[np.ndarray] = [np.zeros(0, np.int64)] * self.H

    def next_step(self, t: int, pre_spiked: np.ndarray) -> np.ndarray:
        """Record the pre spikes of step t; return the synapses (sorted) that receive a spike at t+1."""
        self.ring[t % self.H] = np.flatnonzero(pre_spiked)
        out = []
        for k, d in enumerate(self.delays):
            if t + 1 - d < 0:
                continue
            rows = self.ring[(t + 1 - d) % self.H] * self.nd + k
            if rows.size:
                out.append(self.order[ranges(self.rowptr[rows], self.rowptr[rows + 1])[1]])
        return np.sort(np.concatenate(out)) if out else np.zeros(0, np.int64)
