"""``rstdp``: reward-modulated STDP (three-factor rule; Frémaux & Gerstner 2016), the float reference of Lava's
``RewardModulatedSTDP`` (issue 22; seed 000 frames its neuron as reinforcement learning).

For a synapse pre -> post with weight W, per step (dt; time constants in ms)::

    x (per synapse):  x <- x exp(-dt/tau_plus), then x <- x + 1 when a pre spike arrives
    y (per post):     y <- y exp(-dt/tau_minus) + s_post[t-1]     (the post spikes of the previous step)
    e (eligibility):  e' = e - tau_e e + A_plus x [post spike at t] + A_minus y [pre arrival at t]
    W:                W <- clip(W + eta R(t) e, w_min, w_max);  e <- e'

``A_minus`` is usually negative (depression). The reward R(t) is ``reward_value`` in the steps
``reward_start <= step < reward_stop`` (repeated every ``reward_period`` steps until ``reward_until`` when the
period is > 0), else 0. Without reward the weights do not change; pairings only build eligibility, which loses
the fraction ``tau_e`` per step. This is Lava's R-STDP in float (its weight update uses the eligibility before
the step's change, its y the post spikes up to the previous step); ``neuromap compile`` maps it onto the learning
engine ``loihi3f`` (docs/learning.md, *R-STDP from the float rule*).
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule

#: the reward schedule's parameters (steps), shared with ``rstdp_loihi``
REWARD = ("reward_start", "reward_stop", "reward_period", "reward_until")


def reward_steps(params, n_steps: int | None = None) -> np.ndarray:
    """0-based steps with the reward (sorted; below ``n_steps`` when given)."""
    a, b, per = int(params["reward_start"]), int(params["reward_stop"]), int(params["reward_period"])
    if b <= a:
        return np.zeros(0, np.int64)
    if per <= 0:
        s = np.arange(a, b, dtype=np.int64)
    else:
        until = int(params["reward_until"])
        starts = np.arange(a, max(until, a), max(per, b - a), dtype=np.int64)
        s = (starts[:, None] + np.arange(b - a)[None, :]).reshape(-1)
        s = s[s < until]
    return s if n_steps is None else s[s < n_steps]


class Rule(PlasticityRule):
    """R-STDP with an eligibility trace (see module docstring)."""

    name = "rstdp"
    PARAMS = {
        "tau_plus": Param(20.0, lo=1e-6, unit="ms", doc="pre trace time constant"),
        "tau_minus": Param(20.0, lo=1e-6, unit="ms", doc="post trace time constant"),
        "A_plus": Param(1.0, unit="eligibility", doc="eligibility per pre-before-post pairing (x at a post spike)"),
        "A_minus": Param(-1.0, unit="eligibility", doc="eligibility per post-before-pre pairing (y at a pre arrival)"),
        "tau_e": Param(0.125, lo=0.0, hi=1.0, unit="1/step", doc="fraction of the eligibility lost per step"),
        "eta": Param(0.001, lo=0.0, unit="weight", doc="weight change per unit eligibility and reward"),
        "w_min": Param(0.0, unit="weight", doc="lower weight bound"),
        "w_max": Param(1.0, unit="weight", doc="upper weight bound"),
        "reward_value": Param(1.0, unit="reward", doc="reward R inside a reward window"),
        "reward_start": Param(0, kind="int", lo=0, unit="steps", doc="first step of the reward window"),
        "reward_stop": Param(0, kind="int", lo=0, unit="steps", doc="end of the reward window (exclusive)"),
        "reward_period": Param(0, kind="int", lo=0, unit="steps", doc="window repeats every so many steps (0: once)"),
        "reward_until": Param(0, kind="int", lo=0, unit="steps", doc="with a period: no windows from this step on"),
    }

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = params
        self.d_plus = math.exp(-dt / p["tau_plus"])
        self.d_minus = math.exp(-dt / p["tau_minus"])
        self.x = np.zeros(pre_idx.shape[0])
        self.y = np.zeros(n_post)
        self.prev = np.zeros(n_post)
        self.e = np.zeros(pre_idx.shape[0])
        self.rewarded = set(reward_steps(p).tolist())
        self.t = 0

    def step(self, w, pre_arrived, post_spiked, post_state):
        p = self.params
        self.x *= self.d_plus
        self.x[pre_arrived] += 1.0
        self.y = self.y * self.d_minus + self.prev
        self.prev = post_spiked.astype(np.float64)
        e_old = self.e
        e = e_old * (1.0 - float(p["tau_e"]))
        e += float(p["A_plus"]) * self.x * post_spiked[self.post_idx]
        e += float(p["A_minus"]) * self.y[self.post_idx] * pre_arrived
        if self.t in self.rewarded:
            w[:] = np.clip(w + float(p["eta"]) * float(p["reward_value"]) * e_old, float(p["w_min"]),
                           float(p["w_max"]))
        self.e = e
        self.t += 1
