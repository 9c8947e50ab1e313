"""``poisson``: independent Poisson spike trains, one rate per neuron (Hz).

Discrete-time Bernoulli process: neuron i spikes in a step with probability
p_i = rate_i * dt / 1000 (as ANNarchy's PoissonPopulation), capped at 1.
Generator: instead of one uniform draw per neuron and step, the gaps between
spikes are drawn from the geometric distribution of that Bernoulli process
(``numpy.random.Generator.geometric(p)``: steps until the next success),
which has exactly the same law and costs one draw per spike. The generator
is ``numpy.random.default_rng([network.seed, population index])`` (PCG64);
spikes are produced chunk by chunk in time, so the train does not depend on
the simulator backend, only on the seed.
"""
from __future__ import annotations

import numpy as np

from neuromap.params import Param

PARAMS = {
    "rate": Param(10.0, lo=0.0, unit="Hz", per_neuron=True, doc="firing rate per neuron"),
}
STATE = ()
TARGETS: dict = {}
N_CHANNELS = 0


class Source:
    """Spike events of one population, produced in fixed blocks of ``BLOCK`` steps.

    The random stream is consumed block by block, so the train is the same
    whatever windows the simulator asks for (a longer run extends a shorter one).
    """

    BLOCK = 8192

    def __init__(self, params: dict, size: int, dt: float, rng: np.random.Generator):
        rate = np.broadcast_to(np.asarray(params["rate"], float), (size,))
        self.p = np.minimum(rate * dt / 1000.0, 1.0)
        self.rng = rng
        self.active = np.flatnonzero(self.p > 0.0)
        # pending (next) spike step of each active neuron; geometric >= 1, first possible step is 0
        self.next = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
        self.next[self.active] = rng.geometric(self.p[self.active]) - 1
        self._done = 0  # steps generated so far
        self._buf = (np.zeros(0, np.int64), np.zeros(0, np.int64))

    def _block(self, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """All spikes before step t1 not generated yet (pending spikes included)."""
        out_s, out_i = [], []
        act = self.active[self.next[self.active] < t1]
        while act.size:
            start = self.next[act]
            out_s.append(start)
            out_i.append(act)
            k = int(np.ceil(np.max(self.p[act]) * (t1 - start.min()) * 1.25)) + 4
            times = start[:, None] + np.cumsum(self.rng.geometric(self.p[act][:, None], size=(act.size, k)), axis=1)
            n_in = (times < t1).sum(axis=1)  # times increase along a row: the inside ones are a prefix
            out_s.append(times[times < t1])
            out_i.append(np.repeat(act, n_in))
            spill = n_in < k
            self.next[act[spill]] = times[spill, n_in[spill]]
            cont = act[~spill]  # every drawn spike fell inside: continue after the last one
            self.next[cont] = times[~spill, -1] + self.rng.geometric(self.p[cont])
            act = cont[self.next[cont] < t1]
        if not out_s:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        s, i = np.concatenate(out_s), np.concatenate(out_i)
        order = np.lexsort((i, s))
        return s[order], i[order]

    def events(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """Spikes in steps [t0, t1) as (step, index) sorted by step then index; windows must be consecutive."""
        while self._done < t1:
            self._done += self.BLOCK
            s, i = self._block(self._done)
            self._buf = (np.concatenate([self._buf[0], s]), np.concatenate([self._buf[1], i]))
        s, i = self._buf
        cut = int(np.searchsorted(s, t1))
        lo = int(np.searchsorted(s, t0))
        self._buf = (s[cut:], i[cut:])
        return s[lo:cut], i[lo:cut]
