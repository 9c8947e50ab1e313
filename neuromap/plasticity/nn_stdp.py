"""``nn_stdp``: nearest-neighbour STDP with per-step weight changes, exactly as seed 003 (ANNarchy).

Seed 003's ``nearest_neighbour_stdp`` synapse (after Carlson et al. 2013)::

    tau_plus  d(ltp)/dt = -ltp     (exponential)     pre spike:  ltp = A_plus
    tau_minus d(ltd)/dt = -ltd     (exponential)     post spike: ltd = A_minus
    w += (ltp if t_post >= t_pre else -ltd)   every step, clipped to [w_min, w_max]

t_pre / t_post are the last spike times of the pre / post neuron (ANNarchy's
``pre.last_spike``: emission step, seen by the synapse as soon as the neuron
spikes), while ``ltp = A_plus`` happens when the spike arrives at the synapse.
ANNarchy's order within a step, reproduced here: arrivals set ltp; the traces
decay by exponential Euler, x <- x + (1 - exp(-dt/tau))*(0 - x); w changes and
is clipped; then post spikes set ltd. ltd is kept per post neuron (it is
identical for all synapses of a post neuron), ltp per synapse.
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule

STDP_PARAMS = {
    "tau_plus": Param(20.0, lo=1e-6, unit="ms", doc="LTP trace time constant"),
    "tau_minus": Param(60.0, lo=1e-6, unit="ms", doc="LTD trace time constant"),
    "A_plus": Param(0.0002, lo=0.0, unit="weight/step", doc="LTP trace value after a pre spike"),
    "A_minus": Param(0.000066, lo=0.0, unit="weight/step", doc="LTD trace value after a post spike"),
    "w_min": Param(0.0, unit="weight", doc="lower weight bound"),
    "w_max": Param(0.03, unit="weight", doc="upper weight bound"),
}


class Rule(PlasticityRule):
    """Nearest-neighbour STDP of seed 003 (see module docstring)."""

    name = "nn_stdp"
    PARAMS = STDP_PARAMS
    needs_post_state = ("last_spike",)
    needs_pre_state = ("last_spike",)

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = params
        self.s_plus = 1.0 - math.exp(-dt / p["tau_plus"])
        self.s_minus = 1.0 - math.exp(-dt / p["tau_minus"])
        self.A_plus, self.A_minus = float(p["A_plus"]), float(p["A_minus"])
        self.w_min, self.w_max = float(p["w_min"]), float(p["w_max"])
        self.ltp = np.zeros(pre_idx.shape[0])
        self.ltd = np.zeros(n_post)

    def _traces(self, pre_arrived) -> None:
        self.ltp[pre_arrived] = self.A_plus
        self.ltp += self.s_plus * (0.0 - self.ltp)
        self.ltd += self.s_minus * (0.0 - self.ltd)

    def _stdp(self, post_state) -> np.ndarray:
        causal = post_state["last_spike"][self.post_idx] >= self.pre_state["last_spike"][self.pre_idx]
        return np.where(causal, self.ltp, -self.ltd[self.post_idx])

    def step(self, w, pre_arrived, post_spiked, post_state):
        self._traces(pre_arrived)
        w += self._stdp(post_state)
        np.clip(w, self.w_min, self.w_max, out=w)
        self.ltd[post_spiked] = self.A_minus
