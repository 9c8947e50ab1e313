"""``clopath``: voltage-based STDP of Clopath et al. (2010), time-driven or event-driven (seed 001).

Seed 001 (Stapmanns et al.), for pre i -> post j with weight W::

    dW/dt = -A_LTD s_i (u_- - theta_-)_+  +  A_LTP xbar_i (V_j - theta_+)_+ (u_+ - theta_-)_+      (C1)
    tau_-  du_-/dt = -u_- + V_j,   tau_+ du_+/dt = -u_+ + V_j     (kappa_- * V, kappa_+ * V)        (C2)
    tau_x dxbar/dt = -xbar + s_i   (xbar = K * s_i: jumps by 1/tau_x per arriving spike)          (C3)

V in mV (any voltage unit with matching thresholds), A_LTD in weight/mV, A_LTP in
weight/(mV^2 ms), times in ms. As in NEST's ``clopath_synapse``, u_+/- may be read
``delay_u`` steps late. Discretized at step t (after the neurons, order of
:mod:`neuromap.plasticity.base`)::

    u_+/- <- u_+/- d_+/- + (1 - d_+/-) V(t)           d = exp(-dt/tau)           (C2')
    f(t)   = dt A_LTP (V(t) - theta_+)_+ (u_+(t - D) - theta_-)_+   per post         (C4)
    arrival at t:  W <- clip(W - A_LTD (u_-(t - D) - theta_-)_+),  xbar <- xbar + 1/tau_x
    every step:    xbar <- xbar d_x (before arrivals);  W <- min(W + xbar f(t), w_max)

``update: time`` does exactly that for every synapse at every step.
``update: event`` keeps the post neurons' nonzero f(k) in a
:class:`~neuromap.plasticity.voltage_history.SparseHistory` (the archiving node)
and stores per synapse only xbar at its last arrival t_a. Between arrivals
xbar(k) = xbar(t_a) d_x^(k - t_a), so the LTP since the last update is::

    Delta W = xbar(t_a) * sum_{entries k not yet read} d_x^(k - t_a) f(k)             (C5)

applied at the end of the step *before* each arrival (synapses found by
:class:`~neuromap.plasticity.voltage_history.Arrivals` from the pre spikes and the
delays), so every delivered weight equals the time-driven one; and for every
synapse every ``history`` steps and at the end of a run (:meth:`Rule.finish`).
LTP increments are >= 0 and LTD only happens at arrivals, so clipping once per
update equals clipping every step: both schemes give the same weights up to
floating-point rounding (tests/model/test_clopath.py).
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.params import Param
from neuromap.plasticity.base import PlasticityRule
from neuromap.plasticity.voltage_history import Arrivals, SparseHistory


class Rule(PlasticityRule):
    """Clopath (2010) rule (C1)-(C5); ``update`` selects the time- or event-driven scheme."""

    name = "clopath"
    PARAMS = {
        "A_LTD": Param(14e-5, lo=0.0, unit="weight/mV", doc="depression amplitude"),
        "A_LTP": Param(8e-5, lo=0.0, unit="weight/(mV^2 ms)", doc="potentiation amplitude"),
        "theta_minus": Param(-70.6, unit="mV", doc="theta_-: threshold of the filtered voltages"),
        "theta_plus": Param(-45.3, unit="mV", doc="theta_+: threshold of the instantaneous voltage"),
        "tau_minus": Param(10.0, lo=1e-6, unit="ms", doc="time constant of u_-"),
        "tau_plus": Param(7.0, lo=1e-6, unit="ms", doc="time constant of u_+"),
        "tau_x": Param(15.0, lo=1e-6, unit="ms", doc="time constant of the presynaptic trace xbar"),
        "delay_u": Param(0, kind="int", lo=0, unit="steps", doc="u_+/- are read this many steps late"),
        "u_init": Param(-70.6, unit="mV", doc="initial u_+ and u_- (the resting potential)"),
        "w_min": Param(0.0, unit="weight", doc="lower weight bound"),
        "w_max": Param(100.0, unit="weight", doc="upper weight bound"),
        "update": Param("event", kind="str", choices=("event", "time"), doc="event- or time-driven scheme"),
        "history": Param(1000, kind="int", lo=2, unit="steps", doc="event: ring length; full flush period"),
    }
    needs_post_state = ("v",)
    needs_pre_state = ("spiked",)

    def __init__(self, params, pre_idx, post_idx, n_pre, n_post, dt):
        super().__init__(params, pre_idx, post_idx, n_pre, n_post, dt)
        p = {k: params[k] for k in self.PARAMS}
        self.p = p
        self.d_m, self.d_p = math.exp(-dt / p["tau_minus"]), math.exp(-dt / p["tau_plus"])
        self.d_x = math.exp(-dt / p["tau_x"])
        self.jump = 1.0 / p["tau_x"]
        self.c_ltp = dt * p["A_LTP"]
        self.event = p["update"] == "event"
        n = pre_idx.size
        D = int(p["delay_u"])
        #: u_- and u_+ of the last D+1 steps (row t % (D+1)); live per post neuron
        self.u = np.full((D + 1, 2, n_post), float(p["u_init"]))
        self.xbar = np.zeros(n)              # time: xbar now; event: xbar at t_ref (after the jump)
        self.t = -1
        if self.event:
            self.t_ref = np.zeros(n, np.int64)
            self.seen = np.zeros(n, np.int64)
            self.hist = SparseHistory(n_post, int(p["history"]))
            self.arrivals: Arrivals | None = None

    # -- shared per-post part (the archiving node's job)
    def _post(self, v: np.ndarray):
        """Advance u_+/-; return (LTD amplitude per post, LTP factor f per post) of this step."""
        D1 = self.u.shape[0]
        cur = self.u[(self.t - 1) % D1]
        new = self.u[self.t % D1]
        new[0] = cur[0] * self.d_m + (1.0 - self.d_m) * v
        new[1] = cur[1] * self.d_p + (1.0 - self.d_p) * v
        late = self.u[(self.t + 1) % D1]     # u(t - D); rows not yet written hold u_init
        ltd = self.p["A_LTD"] * np.maximum(late[0] - self.p["theta_minus"], 0.0)
        f = self.c_ltp * np.maximum(v - self.p["theta_plus"], 0.0) * np.maximum(late[1] - self.p["theta_minus"], 0.0)
        return ltd, f

    def step(self, w, pre_arrived, post_spiked, post_state):
        self.t += 1
        t, post = self.t, self.post_idx
        ltd, f = self._post(post_state["v"])
        lo, hi = self.p["w_min"], self.p["w_max"]
        a = np.flatnonzero(pre_arrived)
        if not self.event:
            self.xbar *= self.d_x
            w[a] = np.clip(w[a] - ltd[post[a]], lo, hi)
            self.xbar[a] += self.jump
            w += self.xbar * f[post]
            np.minimum(w, hi, out=w)
            return
        self.hist.write(t, f)
        w[a] = np.clip(w[a] - ltd[post[a]], lo, hi)
        self.xbar[a] = self.xbar[a] * np.exp(-(t - self.t_ref[a]) * self.dt / self.p["tau_x"]) + self.jump
        self.t_ref[a] = t
        if self.arrivals is None:
            self.arrivals = Arrivals(self.pre_idx, self.n_pre, getattr(self, "syn_delay", None))
        nxt = self.arrivals.next_step(t, self.pre_state["spiked"])
        self.flush(w, np.arange(post.size) if (t + 1) % self.hist.length == 0 else nxt)

    def flush(self, w: np.ndarray, syn: np.ndarray) -> None:
        """(C5) for synapses ``syn``: add the LTP of the history entries they have not read."""
        if not syn.size:
            return
        post = self.post_idx[syn]
        seg, k, f = self.hist.gather(post, self.seen[syn])
        if seg.size:
            kern = np.exp(-(k - self.t_ref[syn][seg]) * self.dt / self.p["tau_x"]) * f
            gain = self.xbar[syn] * np.bincount(seg, weights=kern, minlength=syn.size)
            w[syn] = np.minimum(w[syn] + gain, self.p["w_max"])
        self.seen[syn] = self.hist.count[post]

    def finish(self, w: np.ndarray) -> None:
        """End of a run: bring every weight up to date (event-driven); no-op when time-driven."""
        if self.event:
            self.flush(w, np.arange(self.post_idx.size))
