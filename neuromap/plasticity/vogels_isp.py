"""``vogels_isp``: inhibitory spike-timing-dependent plasticity with a target rate.

Vogels, Sprekeler, Zenke, Clopath & Gerstner (2011), *Science* 334:1569, as
presented in seed 004 (Zhu & Rosenbaum 2020, slide "Inhibitory Synaptic
Plasticity"). For an inhibitory synapse k -> j with weight J (the *magnitude*
of inhibition, >= 0; the projection's ``target`` makes it inhibitory):

    pre spike of k at t:   J <- J + eta * f(J) * (x_j(t) - alpha)          (V1)
    post spike of j at t:  J <- J + eta * f(J) * x_k(t)                    (V2)
    traces:  tau_stdp dx/dt = -x,  x <- x + 1 at each own spike           (V3)
    alpha = 2 * rho0 * tau_stdp   (rho0 in Hz, tau_stdp in ms -> /1000)    (V4)

``f(J) = 1`` (``weight_dependence: additive``, Vogels 2011) or ``f(J) = J``
(``multiplicative``, the form on the seed-004 slide, which keeps J's sign).
The seed increments traces by ``1/tau_stdp`` and compares with ``2*rho0``;
that is (V1)-(V4) with ``eta`` divided by ``tau_stdp``.

The expected drift for independent Poisson pre/post trains at rates
nu_pre, nu_post is ``eta * f(J) * nu_pre * tau_stdp * 2 * (nu_post - rho0)``:
inhibition grows while the post neuron fires above ``rho0`` and shrinks below,
so the post rate is driven to ``rho0``.

Discretization (step ``dt`` ms, order of :mod:`neuromap.plasticity.base`):
traces decay by ``exp(-dt/tau_stdp)``; (V1) uses the post trace *before* this
step's post spikes and (V2) the pre trace *after* this step's arrivals, so a
pre and post spike in the same step form one pair (``Delta t = 0``, weight
``exp(0) = 1``), counted once. The pre trace is kept per synapse (it sees
spikes when they *arrive*, after the synaptic delay); the post trace per post
neuron. Weights are clipped to ``[w_min, w_max]`` after each step.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule


class Rule(PlasticityRule):
    """Vogels et al. (2011) inhibitory STDP; equations (V1)-(V4) of the module docstring."""

    name = "vogels_isp"
    PARAMS = {
        "eta": Param(1e-3, lo=0.0, unit="weight", doc="learning rate eta of (V1)/(V2)"),
        "rho0": Param(5.0, lo=0.0, unit="Hz", doc="target post rate rho0; alpha = 2*rho0*tau_stdp (V4)"),
        "tau_stdp": Param(20.0, lo=1e-9, unit="ms", doc="time constant of both traces (V3)"),
        "w_min": Param(0.0, unit="weight", doc="lower clip of the inhibitory weight magnitude"),
        "w_max": Param(1e3, unit="weight", doc="upper clip of the inhibitory weight magnitude"),
        "weight_dependence": Param("additive", kind="str", choices=("additive", "multiplicative"),
                                   doc="f(J)=1 (Vogels 2011) or f(J)=J (seed 004 slide)"),
    }

    def __init__(self, params: dict[str, Any], pre_idx: np.ndarray, post_idx: np.ndarray,
                 n_pre: int, n_post: int, dt: float):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = params
        self.eta = float(p["eta"])
        self.alpha = 2.0 * float(p["rho0"]) * float(p["tau_stdp"]) / 1000.0  # (V4), dimensionless
        self.decay = math.exp(-dt / float(p["tau_stdp"]))
        self.w_min, self.w_max = float(p["w_min"]), float(p["w_max"])
        self.multiplicative = p["weight_dependence"] == "multiplicative"
        self.x_pre = np.zeros(len(pre_idx), dtype=np.float64)   # per synapse (V3)
        self.x_post = np.zeros(n_post, dtype=np.float64)        # per post neuron (V3)

    def step(self, w: np.ndarray, pre_arrived: np.ndarray, post_spiked: np.ndarray,
             post_state: dict[str, np.ndarray]) -> None:
        self.x_pre *= self.decay
        self.x_post *= self.decay
        post_before = self.x_post[self.post_idx]     # Delta t > 0 pairs only (post earlier)
        self.x_pre[pre_arrived] += 1.0
        self.x_post[post_spiked] += 1.0
        post_syn = post_spiked[self.post_idx]
        dw = np.where(pre_arrived, post_before - self.alpha, 0.0)   # (V1)
        dw += np.where(post_syn, self.x_pre, 0.0)                    # (V2), includes Delta t = 0
        dw *= self.eta
        if self.multiplicative:
            dw *= w
        w += dw
        np.clip(w, self.w_min, self.w_max, out=w)
