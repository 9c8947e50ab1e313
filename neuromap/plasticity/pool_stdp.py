"""``pool_stdp``: STDP bounded by a neurotransmitter-receptor pool (seed 000).

Nikitin, Lukyanova & Kunin (2019), "Integrate-and-fire neuron model with STDP
plasticity bounded by neurotransmitter receptor pool". Each post neuron n of the
projection is one dendrite (the seed's compartment n) holding the projection's
synapses m, plus a soma. Equation labels (P1)... are used in docs/models.md,
which also lists every choice made where the seed is ambiguous.

Per step (all sums run over the synapses of dendrite n; O_n = post spike):

  x_nm   = I_nm * W_nm                   (P1) input I in {0,1}: a spike arrived
  STDP   dW+ = (Wmax - W) A+ exp(-dt_pair/tau+)   post spike, pre earlier/same step   (P2, P3)
         dW- = (W - Wmin) A- exp(-dt_pair/tau-)   pre arrival, post strictly earlier  (P2, P3)
  cap    P_n = sum dW+;  if P_n > Pw_n: dW+ <- dW+ * Pw_n / P_n                      (P4)
  use    dPw_n(dW) = sum dW+ - alpha_r * sum dW-   (depression returns alpha_r)      (P5)
  degr   degr_n = k_pw * sum_m x_nm                                                   (P6)
  S      S_n = alpha_s * (sigmoid(C_n) - beta_s)                                      (P7)
  want   want_n = -S_n * (Pw_n - dPw_n(dW) - degr_n - Pw_set);  demand_n = max(want_n, 0) (P8)
         (the seed's want is Pw_set = 0; Pw_set > 0 with S > 0 refills toward Pw_set, see docs)
  supply supply_n = min(demand_n, Pw_soma_n)                                          (P9)
  pool   Pw_n <- Pw_n + supply_n - dPw_n(dW) - degr_n        ("conserve", default)   (P10)
         Pw_n <- Pw_n + (supply_n if demand_n > 0 else -dPw_n(dW) - degr_n) ("literal")
  soma   Pw_soma_n <- Pw_soma_n - supply_n + prod_n                                   (P11)
         prod_n = g_soma * (1 - tanh(C_soma_n))          ("functional", the seed's
                  "functionally defined Pw dynamics")
         prod_n = alpha_secr * (1 - sigmoid(C_soma_n)) * (sigmoid(k_secr) - 0.5) ("secretion")
  Ca     C_n <- C_n + sum_m x_nm - decay(C_n)                                         (P12)
         C_soma_n <- C_soma_n + k_cg * O_n - decay(C_soma_n)                          (P13)
         decay(C) = alpha_c * exp(beta_c * C) - gamma_c                               (P14)
  ADRD   dW_adrd = k_pw * x_nm                                                        (P15)
  SS     dW_ss = alpha_ss * W * (1 - sum W_goal / sum W)                              (P16)
  weight W <- clip(W + dW+ - dW- - dW_adrd - dW_ss, Wmin, Wmax)                       (P17)

Every right-hand side uses the values at the start of the step (W(t), Pw(t),
C(t)); pools and calcium are clamped at 0 (they are amounts). STDP time
constants are in ms; the pool/calcium equations are per simulation step, as in
the seed (a discrete-time model).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule


def _sigmoid(c: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-c))


class Rule(PlasticityRule):
    """Receptor-pool-bounded STDP of seed 000; equations (P1)-(P17) of the module docstring."""

    name = "pool_stdp"
    PARAMS = {
        # soft-bounded STDP (P2, P3)
        "a_plus": Param(0.05, lo=0.0, doc="A+ of A+(W) = (Wmax - W) * A+"),
        "a_minus": Param(0.05, lo=0.0, doc="A- of A-(W) = (W - Wmin) * A-"),
        "tau_plus": Param(5.0, lo=1e-9, unit="ms", doc="potentiation window tau+"),
        "tau_minus": Param(5.0, lo=1e-9, unit="ms", doc="depression window tau-"),
        "w_min": Param(0.0, unit="weight", doc="Wmin"),
        "w_max": Param(1.0, unit="weight", doc="Wmax"),
        # dendritic receptor pool (P4-P10)
        "pw_init": Param(1.0, lo=0.0, unit="weight", doc="initial dendrite pool Pw_n"),
        "alpha_r": Param(0.5, lo=0.0, hi=1.0, doc="fraction of a depression returned to the pool (P5)"),
        "k_pw": Param(0.01, lo=0.0, unit="1/step", doc="receptor degradation k_Pw (P6, P15)"),
        "alpha_s": Param(1.0, doc="gain alpha of the demand slope S (P7)"),
        "beta_s": Param(0.7, doc="offset beta of S (P7): S < 0 (pool grows) while sigmoid(C) < beta"),
        "pw_set": Param(0.0, lo=0.0, unit="weight",
                        doc="set point of the demand (P8); 0 = the seed's equation literally"),
        "pool_update": Param("conserve", kind="str", choices=("conserve", "literal"),
                             doc="P10: supply and use always both apply, or the seed's case split"),
        # soma pool (P9, P11)
        "pw_soma_init": Param(1.0, lo=0.0, unit="weight", doc="initial soma pool Pw_soma"),
        "soma_mode": Param("functional", kind="str", choices=("functional", "secretion"),
                           doc="P11: Pw_soma += g_soma*(1 - tanh C_soma) or the secr() law"),
        "g_soma": Param(1.0, lo=0.0, unit="weight/step", doc="gain of the functional production (seed: 1)"),
        "alpha_secr": Param(1.0, lo=0.0, unit="weight/step", doc="alpha of secr() (P11)"),
        "k_secr": Param(1.0, doc="secretion level k_secr of secr() (the seed's ESN action; constant here)"),
        # calcium (P12-P14)
        "k_cg": Param(1.0, lo=0.0, doc="soma calcium per output spike k_Cg (P13)"),
        "alpha_c": Param(0.1, lo=0.0, unit="1/step", doc="alpha of decay(C) (P14)"),
        "beta_c": Param(1.0, lo=0.0, doc="beta of decay(C) (P14)"),
        "gamma_c": Param(0.1, lo=0.0, unit="1/step", doc="gamma of decay(C) (P14); alpha_c = gamma_c -> decay(0) = 0"),
        # synaptic scaling (P16)
        "alpha_ss": Param(0.0, lo=0.0, unit="1/step", doc="synaptic-scaling rate alpha (0 = off)"),
        "w_goal_sum": Param(0.0, lo=0.0, unit="weight",
                            doc="goal sum of weights per post neuron; 0 = its initial sum"),
    }

    def __init__(self, params: dict[str, Any], pre_idx: np.ndarray, post_idx: np.ndarray,
                 n_pre: int, n_post: int, dt: float):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = params
        self.p = {k: (float(v) if not isinstance(v, str) else v) for k, v in p.items() if k in self.PARAMS}
        self.dec_plus = math.exp(-dt / self.p["tau_plus"])
        self.dec_minus = math.exp(-dt / self.p["tau_minus"])
        n_syn = len(pre_idx)
        #: nearest-spike traces: 1 at a spike, decaying with tau+/- (P2)
        self.x_pre = np.zeros(n_syn, dtype=np.float64)
        self.y_post = np.zeros(n_post, dtype=np.float64)
        #: per post neuron (dendrite n / soma) state, in weight units and calcium units
        self.pw = np.full(n_post, self.p["pw_init"], dtype=np.float64)
        self.pw_soma = np.full(n_post, self.p["pw_soma_init"], dtype=np.float64)
        self.c_dend = np.zeros(n_post, dtype=np.float64)
        self.c_soma = np.zeros(n_post, dtype=np.float64)
        self.w_goal: np.ndarray | None = None
        if self.p["w_goal_sum"] > 0.0:
            self.w_goal = np.full(n_post, self.p["w_goal_sum"], dtype=np.float64)
        #: last step's terms, per post neuron (for probes, docs and tests)
        self.last: dict[str, np.ndarray] = {}

    def _sum(self, v: np.ndarray) -> np.ndarray:
        """Per-dendrite sum of a per-synapse array."""
        return np.bincount(self.post_idx, weights=v, minlength=self.n_post)

    def _decay(self, c: np.ndarray) -> np.ndarray:
        """decay(C) = alpha_c * exp(beta_c * C) - gamma_c  (P14)."""
        return self.p["alpha_c"] * np.exp(self.p["beta_c"] * c) - self.p["gamma_c"]

    def step(self, w: np.ndarray, pre_arrived: np.ndarray, post_spiked: np.ndarray,
             post_state: dict[str, np.ndarray]) -> None:
        p, post = self.p, self.post_idx
        if self.w_goal is None:
            self.w_goal = self._sum(w)                       # "0 = initial sum" (P16)
        x = np.where(pre_arrived, w, 0.0)                    # (P1)
        x_sum = self._sum(x)

        # soft-bounded nearest-spike STDP (P2, P3)
        self.x_pre *= self.dec_plus
        self.y_post *= self.dec_minus
        self.x_pre[pre_arrived] = 1.0                        # Delta t = 0 counts as potentiation
        pot = np.where(post_spiked[post], (p["w_max"] - w) * p["a_plus"] * self.x_pre, 0.0)
        dep = np.where(pre_arrived, (w - p["w_min"]) * p["a_minus"] * self.y_post[post], 0.0)
        self.y_post[post_spiked] = 1.0

        # receptor-pool cap on potentiation (P4) and pool use (P5)
        pot_sum = self._sum(pot)
        avail = np.maximum(self.pw, 0.0)
        scale = np.where(pot_sum > avail, avail / np.where(pot_sum > 0.0, pot_sum, 1.0), 1.0)
        pot *= scale[post]
        use = pot_sum * scale - p["alpha_r"] * self._sum(dep)
        degr = p["k_pw"] * x_sum                             # (P6)

        # demand/supply from the soma (P7-P9)
        s = p["alpha_s"] * (_sigmoid(self.c_dend) - p["beta_s"])
        want = -s * (self.pw - use - degr - p["pw_set"])
        demand = np.maximum(want, 0.0)
        supply = np.minimum(demand, np.maximum(self.pw_soma, 0.0))

        # dendrite pool (P10) and soma pool (P11)
        if p["pool_update"] == "conserve":
            pw_new = self.pw + supply - use - degr
        else:
            pw_new = self.pw + np.where(demand > 0.0, supply, -use - degr)
        if p["soma_mode"] == "functional":
            prod = p["g_soma"] * (1.0 - np.tanh(self.c_soma))
        else:
            prod = p["alpha_secr"] * (1.0 - _sigmoid(self.c_soma)) * (_sigmoid(p["k_secr"]) - 0.5)

        # weights (P15-P17), from W(t)
        w_sum = self._sum(w)
        ratio = np.where(w_sum > 0.0, self.w_goal / np.where(w_sum > 0.0, w_sum, 1.0), 1.0)
        ss = p["alpha_ss"] * w * (1.0 - ratio[post])
        w += pot - dep - p["k_pw"] * x - ss
        np.clip(w, p["w_min"], p["w_max"], out=w)

        # state updates (P10-P13), clamped at 0
        self.pw = np.maximum(pw_new, 0.0)
        self.pw_soma = np.maximum(self.pw_soma - supply + prod, 0.0)
        self.c_dend = np.maximum(self.c_dend + x_sum - self._decay(self.c_dend), 0.0)
        self.c_soma = np.maximum(self.c_soma + p["k_cg"] * post_spiked - self._decay(self.c_soma), 0.0)
        self.last = {"pot": pot_sum * scale, "use": use, "degr": degr, "S": s, "demand": demand,
                     "supply": supply, "prod": prod, "x_sum": x_sum}
