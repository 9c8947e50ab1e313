"""``stdp``: pair-based STDP with exponential traces, additive or soft-bounded (seed 000).

For a synapse pre -> post with weight W (Morrison et al. 2008, all-to-all pairing)::

    x (per synapse):   tau_plus dx/dt = -x,   x <- x + 1 when a pre spike arrives
    y (per post):      tau_minus dy/dt = -y,  y <- y + 1 when the post neuron spikes
    pre arrival:  W <- W - A_-(W) * y        (post-before-pre: depression)
    post spike:   W <- W + A_+(W) * x        (pre-before-post, incl. same step: potentiation)

so a pair at lag Delta t = t_post - t_pre gives A_+ exp(-Delta t/tau_plus) for
Delta t >= 0 and -A_- exp(Delta t/tau_minus) for Delta t < 0 (seed 000, with the
usual causal sign convention). ``bound: additive``: A_+(W) = A_plus,
A_-(W) = A_minus. ``bound: soft`` (seed 000): A_+(W) = (w_max - W)*A_plus,
A_-(W) = (W - w_min)*A_minus.

One step (order of :mod:`neuromap.plasticity.base`): both traces decay by
exp(-dt/tau); arrivals depress (with y before this step's post spikes) and
then add 1 to x; post spikes potentiate (with x after this step's arrivals)
and then add 1 to y. A weight that changed is clipped to [w_min, w_max].
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule


class Rule(PlasticityRule):
    """Pair-based trace STDP (see module docstring)."""

    name = "stdp"
    PARAMS = {
        "tau_plus": Param(20.0, lo=1e-6, unit="ms", doc="pre trace time constant"),
        "tau_minus": Param(20.0, lo=1e-6, unit="ms", doc="post trace time constant"),
        "A_plus": Param(0.01, lo=0.0, unit="weight", doc="potentiation amplitude"),
        "A_minus": Param(0.012, lo=0.0, unit="weight", doc="depression amplitude"),
        "w_min": Param(0.0, unit="weight", doc="lower weight bound"),
        "w_max": Param(1.0, unit="weight", doc="upper weight bound"),
        "bound": Param("additive", kind="str", choices=("additive", "soft"), doc="weight dependence of A_+/A_-"),
    }

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = params
        self.d_plus = math.exp(-dt / p["tau_plus"])
        self.d_minus = math.exp(-dt / p["tau_minus"])
        self.A_plus, self.A_minus = float(p["A_plus"]), float(p["A_minus"])
        self.w_min, self.w_max = float(p["w_min"]), float(p["w_max"])
        self.soft = p["bound"] == "soft"
        self.x = np.zeros(pre_idx.shape[0])
        self.y = np.zeros(n_post)

    def step(self, w, pre_arrived, post_spiked, post_state):
        self.x *= self.d_plus
        self.y *= self.d_minus
        if pre_arrived.any():
            a = np.flatnonzero(pre_arrived)
            wa = w[a]
            am = (wa - self.w_min) * self.A_minus if self.soft else self.A_minus
            w[a] = np.clip(wa - am * self.y[self.post_idx[a]], self.w_min, self.w_max)
            self.x[a] += 1.0
        if post_spiked.any():
            s = np.flatnonzero(post_spiked[self.post_idx])
            ws = w[s]
            ap = (self.w_max - ws) * self.A_plus if self.soft else self.A_plus
            w[s] = np.clip(ws + ap * self.x[s], self.w_min, self.w_max)
            self.y[post_spiked] += 1.0
