"""``urbanczik_senn``: dendritic prediction of somatic spiking (Urbanczik & Senn 2014), time- or event-driven.

Seed 001: F[s_i, s_j, V_j] = eta kappa * ((s_j - phi(V_j*)) h(V_j*) K * s_i); seed 002
(eqs. 5-7 and the I1/I2 recursion) for its event-driven form. For dendritic synapse
i -> post j with weight W::

    V*_j(k)  = (n_j(k) - phi(V_w*_j(k)) dt) h(V_w*_j(k))      error at step k      (U1)
               n_j(k) in {0,1}: post spike; phi, h, V_w* from the post neuron
               (``two_compartment`` state phi_pred, h_pred; mV^-1)
    s*_i(k)  = sum_f tau_s/(tau_L - tau_s) (exp(-(k-t_f)dt/tau_L) - exp(-(k-t_f)dt/tau_s))
               the dendritic PSP of a unit weight (K * s_i, dimensionless)            (U2)
    PI(k)    = V*_j(k) s*_i(k)                                                        (U3)
    W(t)     = clip(W(0) + eta [I1(t) - I2(t)], w_min, w_max)                          (U4)
    I1(t)    = sum_{k<=t} PI(k),   I2(t) = sum_{k<=t} d^(t-k) PI(k),  d = exp(-dt/tau_Delta)

(U4) is seed 002's Delta W(0,t) = eta [I1(0,t) - I2(0,t)] with the normalized kernel
kappa(t) = exp(-t/tau_Delta)/tau_Delta: W(t) - W(0) = eta sum_k PI(k)(1 - d^(t-k)).
eta is in weight*mV. W is a function of the integrals, so clipping never accumulates.

``update: time`` advances the traces s_L, s_s (U2), I1 and I2 of every synapse at
every step. ``update: event`` stores V*(k) of every post neuron at every step in a
:class:`~neuromap.plasticity.voltage_history.DenseHistory` (the Urbanczik archiving
node) and per synapse only s_L, s_s at its last arrival t_a and I1, I2 at its last
update t_u. Over the unread steps k in (t_u, t] (no arrivals in between)::

    s*(k) = tau_s/(tau_L - tau_s) (s_L(t_a) e^(-(k-t_a)dt/tau_L) - s_s(t_a) e^(-(k-t_a)dt/tau_s))
    I1(t) = I1(t_u) + sum_k PI(k)
    I2(t) = d^(t - t_u) I2(t_u) + sum_k d^(t-k) PI(k)        (seed 002's recursion)

run at the end of the step before each arrival (so delivered weights equal the
time-driven ones), for every synapse every ``history`` steps and at the end of a
run (:meth:`Rule.finish`).
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule
from neuromap.plasticity.voltage_history import Arrivals, DenseHistory


class Rule(PlasticityRule):
    """Urbanczik-Senn rule (U1)-(U4); ``update`` selects the time- or event-driven scheme."""

    name = "urbanczik_senn"
    PARAMS = {
        "eta": Param(1.0, unit="weight*mV", doc="learning rate"),
        "tau_Delta": Param(100.0, lo=1e-6, unit="ms", doc="time constant of the weight low-pass kappa"),
        "tau_L": Param(10.0, lo=1e-6, unit="ms", doc="PSP kernel: dendritic membrane time constant"),
        "tau_s": Param(3.0, lo=1e-6, unit="ms", doc="PSP kernel: synaptic time constant (!= tau_L)"),
        "w_min": Param(-100.0, unit="weight", doc="lower weight bound"),
        "w_max": Param(100.0, unit="weight", doc="upper weight bound"),
        "update": Param("event", kind="str", choices=("event", "time"), doc="event- or time-driven scheme"),
        "history": Param(1000, kind="int", lo=2, unit="steps", doc="event: ring length; full flush period"),
    }
    needs_post_state = ("phi_pred", "h_pred")
    needs_pre_state = ("spiked",)

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = {k: params[k] for k in self.PARAMS}
        if p["tau_L"] == p["tau_s"]:
            raise ValueError("urbanczik_senn: tau_L must differ from tau_s")
        self.p = p
        self.norm = p["tau_s"] / (p["tau_L"] - p["tau_s"])
        self.dL, self.ds = math.exp(-dt / p["tau_L"]), math.exp(-dt / p["tau_s"])
        self.dD = math.exp(-dt / p["tau_Delta"])
        self.event = p["update"] == "event"
        n = pre_idx.size
        self.sL, self.ss = np.zeros(n), np.zeros(n)     # event: at t_ref (after the jump)
        self.I1, self.I2 = np.zeros(n), np.zeros(n)     # event: at t_u
        self.w0: np.ndarray | None = None
        self.t = -1
        if self.event:
            self.t_ref = np.zeros(n, np.int64)
            self.t_u = np.full(n, -1, np.int64)
            self.hist = DenseHistory(n_post, int(p["history"]))
            self.arrivals: Arrivals | None = None

    def _weights(self, w: np.ndarray, syn) -> None:
        w[syn] = np.clip(self.w0[syn] + self.p["eta"] * (self.I1[syn] - self.I2[syn]),
                         self.p["w_min"], self.p["w_max"])

    def step(self, w, pre_arrived, post_spiked, post_state):
        self.t += 1
        t = self.t
        if self.w0 is None:
            self.w0 = w.copy()
        err = (post_spiked - post_state["phi_pred"] * self.dt) * post_state["h_pred"]     # (U1)
        a = np.flatnonzero(pre_arrived)
        if not self.event:
            self.sL *= self.dL
            self.ss *= self.ds
            self.sL[a] += 1.0
            self.ss[a] += 1.0
            pi = err[self.post_idx] * (self.norm * (self.sL - self.ss))                     # (U2, U3)
            self.I1 += pi
            self.I2 *= self.dD
            self.I2 += pi
            self._weights(w, slice(None))                                                   # (U4)
            return
        self.hist.write(t, err)
        lag = (t - self.t_ref[a]) * self.dt
        self.sL[a] = self.sL[a] * np.exp(-lag / self.p["tau_L"]) + 1.0
        self.ss[a] = self.ss[a] * np.exp(-lag / self.p["tau_s"]) + 1.0
        self.t_ref[a] = t
        if self.arrivals is None:
            self.arrivals = Arrivals(self.pre_idx, self.n_pre, getattr(self, "syn_delay", None))
        nxt = self.arrivals.next_step(t, self.pre_state["spiked"])
        self.flush(w, np.arange(self.post_idx.size) if (t + 1) % self.hist.length == 0 else nxt)

    def flush(self, w: np.ndarray, syn: np.ndarray) -> None:
        """Integrate the unread history of synapses ``syn`` (seed 002's I1/I2 recursion) and set their weights."""
        if not syn.size:
            return
        t = self.t
        seg, k, err = self.hist.gather(self.post_idx[syn], self.t_u[syn], t)
        lag = (k - self.t_ref[syn][seg]) * self.dt
        s_star = self.norm * (self.sL[syn][seg] * np.exp(-lag / self.p["tau_L"])
                              - self.ss[syn][seg] * np.exp(-lag / self.p["tau_s"]))
        pi = err * s_star
        dd = np.exp(-(t - k) * self.dt / self.p["tau_Delta"])
        self.I1[syn] += np.bincount(seg, weights=pi, minlength=syn.size)
        self.I2[syn] = (np.exp(-(t - self.t_u[syn]) * self.dt / self.p["tau_Delta"]) * self.I2[syn]
                        + np.bincount(seg, weights=dd * pi, minlength=syn.size))
        self.t_u[syn] = t
        self._weights(w, syn)

    def finish(self, w: np.ndarray) -> None:
        """End of a run: bring every weight up to date (event-driven); no-op when time-driven."""
        if self.event and self.w0 is not None:
            self.flush(w, np.arange(self.post_idx.size))
