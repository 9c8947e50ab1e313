"""``pool_esn``: seed 000's echo-state-network Q-learner that controls the soma's receptor secretion.

Nikitin, Lukyanova & Kunin (2019): each neuron's "complex cellular network" is an
echo state network (ESN) that observes (Pw_dendrite, Pw_soma, C_soma, C_dendrite)
and chooses to decrease, keep or increase the secretion of receptors (k_secr of
``pool_stdp``'s secr() law, P11), rewarded by closeness of C_soma to an optimal level.
The float reference. No target's neuron or learning engine computes it (float
matrix-vector products, tanh, a learned readout per neuron every ``period``
steps); on ``loihi`` it runs beside the cores as an embedded-core controller in
fixed point (:mod:`neuromap.embedded.esn_q`, docs/learning.md).

Per neuron n, every ``period`` steps (E1-E6)::

    o      = (Pw_n, Pw_soma_n, C_soma_n, C_n)                       observation    (E1)
    x      <- (1 - leak) x + leak tanh(W_in o + W x)                 reservoir      (E2)
             W: n_res x n_res, density 10%, scaled to spectral radius ``rho``; W_in ~ U(-in_scale, in_scale)
    Q(a)   = W_out[a] . [x; 1],  a in {0: keep, 1: down, 2: up}       readout        (E3)
    a      = argmax_a Q(a), or uniform with probability ``epsilon``  (seeded)        (E4)
             (``greedy_from`` >= 0: epsilon = 0 from that step on, the greedy evaluation of RL; -1: never;
             ``epsilon_schedule: linear``: epsilon (1 - t / greedy_from) at a decision of step t < greedy_from)
    k_secr <- clip(k_secr + (0, -dk, +dk)[a], -k_max, k_max)  (ties of E4 -> keep)    (E5)
    r      = -|C_soma - c_opt| (after the step);  TD(0):                             (E6)
             W_out[a_prev] += lr (r + gamma max_a Q(x, a) - Q(x_prev, a_prev)) [x_prev; 1]

The reservoir and readout are shared by all neurons of the projection (one ESN
"genome"); each neuron has its own reservoir state. Everything else is ``pool_stdp``
with ``soma_mode: secretion`` (its equations P1-P17 unchanged).
"""
from __future__ import annotations

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.pool_stdp import Rule as PoolRule


class EsnQController:
    """ESN + linear Q readout (E2-E6) for ``n`` neurons; all draws from ``np.random.default_rng(seed)``."""

    N_ACT = 3

    def __init__(self, n: int, n_res: int = 50, rho: float = 0.9, leak: float = 0.5, in_scale: float = 1.0,
                 lr: float = 0.01, gamma: float = 0.9, epsilon: float = 0.1, seed: int = 0):
        rng = np.random.default_rng([seed, 0x65736E])
        self.rng = rng
        w = rng.uniform(-1.0, 1.0, (n_res, n_res)) * (rng.random((n_res, n_res)) < 0.1)
        radius = np.max(np.abs(np.linalg.eigvals(w))) if n_res else 0.0
        self.W = w * (rho / radius) if radius > 0 else w
        self.W_in = rng.uniform(-in_scale, in_scale, (n_res, 4))
        self.W_out = np.zeros((self.N_ACT, n_res + 1))
        self.x = np.zeros((n, n_res))
        self.leak, self.lr, self.gamma, self.epsilon = leak, lr, gamma, epsilon
        self.prev: tuple[np.ndarray, np.ndarray] | None = None     # (features, action) of the last decision

    def features(self, obs: np.ndarray) -> np.ndarray:
        """(E2) advance the reservoirs with observations obs[n, 4]; return [x; 1] (n, n_res + 1)."""
        self.x = (1.0 - self.leak) * self.x + self.leak * np.tanh(obs @ self.W_in.T + self.x @ self.W.T)
        return np.hstack([self.x, np.ones((self.x.shape[0], 1))])

    def act(self, obs: np.ndarray, reward: np.ndarray | None) -> np.ndarray:
        """TD-update the last decision with ``reward`` (E6), then choose actions 0/1/2 (E3, E4)."""
        f = self.features(obs)
        q = f @ self.W_out.T
        if self.prev is not None and reward is not None:
            pf, pa = self.prev
            td = reward + self.gamma * q.max(axis=1) - np.einsum("ij,ij->i", pf, self.W_out[pa])
            np.add.at(self.W_out, pa, self.lr * td[:, None] * pf)
        a = np.argmax(q, axis=1)
        explore = self.rng.random(a.size) < self.epsilon
        a[explore] = self.rng.integers(0, self.N_ACT, int(explore.sum()))
        self.prev = (f, a)
        return a


class Rule(PoolRule):
    """``pool_stdp`` (secretion law) whose k_secr is set by an :class:`EsnQController` (E1-E6)."""

    name = "pool_esn"
    STEP = np.array([0.0, -1.0, 1.0])   # keep, down, up
    PARAMS = {**PoolRule.PARAMS,
              "soma_mode": Param("secretion", kind="str", choices=("secretion",), doc="fixed: the secr() law"),
              "c_opt": Param(0.3, lo=0.0, doc="target soma calcium (reward -|C_soma - c_opt|)"),
              "period": Param(10, kind="int", lo=1, unit="steps", doc="steps between ESN decisions"),
              "dk": Param(0.5, lo=0.0, doc="k_secr change per up/down action"),
              "k_max": Param(4.0, lo=0.0, doc="|k_secr| bound"),
              "n_res": Param(50, kind="int", lo=1, doc="reservoir units"),
              "rho": Param(0.9, lo=0.0, doc="spectral radius of the reservoir"),
              "leak": Param(0.5, lo=0.0, hi=1.0, doc="reservoir leak rate"),
              "in_scale": Param(1.0, lo=0.0, doc="input weight scale"),
              "lr": Param(0.01, lo=0.0, doc="Q-learning rate"),
              "gamma": Param(0.9, lo=0.0, hi=1.0, doc="discount"),
              "epsilon": Param(0.1, lo=0.0, hi=1.0, doc="exploration probability"),
              "seed": Param(0, kind="int", lo=0, doc="seed of the reservoir and exploration"),
              "greedy_from": Param(-1, kind="int", lo=-1, unit="steps",
                                   doc="step from which exploration stops (epsilon 0: greedy evaluation); -1: never"),
              "epsilon_schedule": Param("constant", kind="str", choices=("constant", "linear"),
                                        doc="epsilon until greedy_from: constant, or linear from epsilon at step 0 "
                                            "to 0 at greedy_from (needs greedy_from > 0)"),
              }

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        q = params
        self.controller = EsnQController(n_post, int(q["n_res"]), float(q["rho"]), float(q["leak"]),
                                         float(q["in_scale"]), float(q["lr"]), float(q["gamma"]),
                                         float(q["epsilon"]), int(q["seed"]))
        self.p["k_secr"] = np.full(n_post, float(q["k_secr"]))
        self.t = 0
        self.k_history: list[np.ndarray] = []

    def step(self, w, pre_arrived, post_spiked, post_state):
        if self.t % int(self.p["period"]) == 0:
            g = int(self.p["greedy_from"])
            if 0 <= g <= self.t:
                self.controller.epsilon = 0.0
            elif g > 0 and self.p["epsilon_schedule"] == "linear":
                self.controller.epsilon = float(self.p["epsilon"]) * (1.0 - self.t / g)
            obs = np.stack([self.pw, self.pw_soma, self.c_soma, self.c_dend], axis=1)       # (E1)
            reward = -np.abs(self.c_soma - self.p["c_opt"])                                 # (E6)
            a = self.controller.act(obs, reward)
            self.p["k_secr"] = np.clip(self.p["k_secr"] + self.STEP[a] * self.p["dk"], -self.p["k_max"],
                                       self.p["k_max"])                                      # (E5)
            self.k_history.append(self.p["k_secr"].copy())
        self.t += 1
        super().step(w, pre_arrived, post_spiked, post_state)
