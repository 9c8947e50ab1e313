"""``homeostatic_stdp``: Carlson et al. (2013) homeostatic STDP, exactly as seed 003's ANNarchy code.

On top of the nearest-neighbour STDP term of :mod:`neuromap.plasticity.nn_stdp`::

    R = post firing rate over the last T ms    (ANNarchy compute_firing_rate(T))
    K = R / (T * (1 + |1 - R/Rtarget| * gamma))
    w += (alpha * w * (1 - R/Rtarget) + beta * stdp) * K,   clipped to [w_min, w_max]

R follows ANNarchy exactly: R = (1000/T) * (number of post spikes in the
steps (t - W, t]), W = int(T/dt), updated after the neurons of step t (so it
includes a spike at t). T is both the rate window and the T of K, as in seed 003.
"""
from __future__ import annotations

import numpy as np

from neuromap.params import Param
from neuromap.plasticity import nn_stdp


class Rule(nn_stdp.Rule):
    """Carlson 2013 homeostatic STDP of seed 003 (see module docstring)."""

    name = "homeostatic_stdp"
    PARAMS = {
        **nn_stdp.STDP_PARAMS,
        "alpha": Param(0.1, unit="1", doc="homeostatic scaling factor"),
        "beta": Param(1.0, unit="1", doc="STDP factor"),
        "gamma": Param(50.0, lo=0.0, unit="1", doc="sharpness of K around Rtarget"),
        "Rtarget": Param(35.0, lo=1e-9, unit="Hz", doc="target post firing rate"),
        "T": Param(5000.0, lo=1e-6, unit="ms", doc="rate window and time scale of K"),
    }

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = params
        self.alpha, self.beta, self.gamma = float(p["alpha"]), float(p["beta"]), float(p["gamma"])
        self.Rtarget, self.T = float(p["Rtarget"]), float(p["T"])
        self.window = max(int(self.T / dt), 1)
        self.rate_factor = 1000.0 / self.T
        self.ring = np.zeros((self.window, n_post), dtype=np.int8)
        self.count = np.zeros(n_post, dtype=np.int64)
        self.t = 0

    def rate(self) -> np.ndarray:
        """R per post neuron (Hz) as of the last step."""
        return self.rate_factor * self.count

    def step(self, w, pre_arrived, post_spiked, post_state):
        self._traces(pre_arrived)
        slot = self.t % self.window
        self.count += post_spiked.astype(np.int64) - self.ring[slot]
        self.ring[slot] = post_spiked
        self.t += 1
        r = self.rate()
        k = r / (self.T * (1.0 + np.abs(1.0 - r / self.Rtarget) * self.gamma))
        rs = r[self.post_idx]
        w += (self.alpha * w * (1.0 - rs / self.Rtarget) + self.beta * self._stdp(post_state)) * k[self.post_idx]
        np.clip(w, self.w_min, self.w_max, out=w)
        self.ltd[post_spiked] = self.A_minus
