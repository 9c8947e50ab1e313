"""Brunel (2000) sparse E/I network of LIF neurons with static synapses (model A).

NE = 4 NI excitatory/inhibitory neurons, each receiving CE = eps*NE excitatory and
CI = eps*NI inhibitory synapses (fixed in-degree), J = 0.1 mV, inhibitory -g*J, delay
D = 1.5 ms, tau_m = 20 ms, theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms, and CE external
Poisson inputs per neuron at nu_ext = eta * nu_thr, nu_thr = theta / (J CE tau_m)
(delivered as one Poisson source of rate CE*nu_ext per neuron, populations ext_E/ext_I). The full network is
NE = 10000, NI = 2500, eps = 0.1; g = 5, eta = 2 is the asynchronous-irregular (AI) state.

The simulator's ``lif`` has an exponential synaptic current; with tau_syn = 0.1 ms the
PSP is a jump of J (the weight is set so the PSP *integral* equals J*tau_m, exactly, for
the discretized model). :func:`mean_field_rate` solves Brunel's self-consistent rate
(diffusion approximation, his eq. 21) with the Fourcaud & Brunel (2002) shift for the
finite tau_syn, so simulated rates can be compared with theory.
``python examples/brunel.py [--full]`` prints rates, CV of ISIs and the theory.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import erfcx

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                os.path.dirname(os.path.abspath(__file__))]
from balanced_ei import spike_matrix  # noqa: E402

import neuromap  # noqa: E402

TAU_M, THETA, V_R, TAU_RP, DELAY_MS, TAU_SYN = 20.0, 20.0, 10.0, 2.0, 1.5, 0.1
FULL = dict(ne=10000, ni=2500, eps=0.1, j=0.1, g=5.0, eta=2.0, dt=0.1)
SMALL = dict(ne=2000, ni=500, eps=0.1, j=0.5, g=5.0, eta=2.0, dt=0.1)


def psp_weight(j: float, dt: float) -> float:
    """lif weight whose PSP integral (sum of v*dt, no threshold) is j*tau_m, as a jump of j."""
    from neuromap.neurons import lif
    params = dict(tau_m=TAU_M, tau_syn=TAU_SYN, v_rest=0.0, bias=0.0, v_th=1e9, v_reset=0.0, refractory=0)
    c = lif.constants(params, 1, dt)
    s = lif.init_state(dict(v_init=0.0), 1)
    refr = np.zeros(1, np.int64)
    total = 0.0
    for k in range(int(20 * TAU_M / dt)):
        lif.update(s, c, np.array([[1.0 if k == 0 else 0.0]]), refr)
        total += s["v"][0] * dt
    return j * TAU_M / total


def build(ne: int, ni: int, eps: float, j: float, g: float, eta: float, dt: float, seed: int = 3) -> neuromap.Network:
    ce, ci = int(round(eps * ne)), int(round(eps * ni))
    nu_thr = THETA / (j * ce * TAU_M) * 1000.0                 # Hz
    w = psp_weight(j, dt)
    net = neuromap.Network(name="brunel", dt=dt, seed=seed)
    lif = dict(tau_m=TAU_M, tau_syn=TAU_SYN, v_th=THETA, v_reset=V_R, refractory=int(round(TAU_RP / dt)))
    net.add_population("E", ne, "lif", **lif)
    net.add_population("I", ni, "lif", **lif)
    net.add_population("ext_E", ne, "poisson", rate=ce * eta * nu_thr)
    net.add_population("ext_I", ni, "poisson", rate=ce * eta * nu_thr)
    d = int(round(DELAY_MS / dt))
    for post in ("E", "I"):
        net.connect(f"ext_{post}", post, "one_to_one", weight=w, delay=d)
        net.connect("E", post, {"rule": "fixed_indegree", "k": ce}, weight=w, delay=d)
        net.connect("I", post, {"rule": "fixed_indegree", "k": ci}, weight=g * w, delay=d, target="inh")
    net.add_probe("E", "spikes")
    net.add_probe("I", "spikes")
    return net


def mean_field_rate(ne: int, ni: int, eps: float, j: float, g: float, eta: float, dt: float = 0.1) -> float:
    """Stationary rate (Hz) of Brunel's eq. 21 with the Fourcaud-Brunel synaptic-filter shift."""
    ce = eps * ne
    gamma = ni / ne
    tau = TAU_M / 1000.0
    nu_thr = THETA / (j * ce * tau)
    shift = math.sqrt(2.0) * 1.4603545088095868 / 2.0 * math.sqrt(TAU_SYN / TAU_M)   # |zeta(1/2)|

    def f(nu):
        mu = ce * j * tau * (eta * nu_thr + nu * (1.0 - g * gamma))
        sigma = math.sqrt(ce * j * j * tau * (eta * nu_thr + nu * (1.0 + g * g * gamma)))
        y_th, y_r = (THETA - mu) / sigma + shift, (V_R - mu) / sigma + shift
        integral = quad(lambda u: erfcx(-u), y_r, y_th)[0]
        return 1.0 / (TAU_RP / 1000.0 + tau * math.sqrt(math.pi) * integral) - nu

    return brentq(f, 1e-3, 1.0 / (TAU_RP / 1000.0) - 1e-3)


def stats(spikes: np.ndarray, dt: float, skip_ms: float = 100.0) -> dict[str, float]:
    """Mean rate (Hz), mean CV of inter-spike intervals, and synchrony (population-count Fano factor
    over 1 ms bins divided by the Poisson value) after ``skip_ms``; spikes: bool[steps, n]."""
    s = spikes[int(skip_ms / dt):]
    rate = s.mean() * 1000.0 / dt
    t, i = np.nonzero(s)
    cvs = []
    for n in range(s.shape[1]):
        ts = t[i == n]
        if ts.size >= 4:
            isi = np.diff(ts)
            cvs.append(isi.std() / isi.mean())
    b = int(round(1.0 / dt))
    counts = s[: s.shape[0] // b * b].reshape(-1, b, s.shape[1]).sum(axis=(1, 2))
    return {"rate": float(rate), "cv": float(np.mean(cvs)) if cvs else float("nan"),
            "sync": float(counts.var() / counts.mean()) if counts.mean() > 0 else float("nan")}


def run(cfg: dict, ms: float, simulate=None) -> dict[str, dict[str, float]]:
    simulate = simulate or neuromap.simulate
    res = simulate(build(**cfg), int(round(ms / cfg["dt"])))
    return {p: stats(spike_matrix(res, p, n), cfg["dt"]) for p, n in (("E", cfg["ne"]), ("I", cfg["ni"]))}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Brunel (2000) network, static synapses")
    ap.add_argument("--full", action="store_true", help="NE=10000, NI=2500 (default: the scaled-down network)")
    ap.add_argument("--ms", type=float, default=500.0)
    a = ap.parse_args()
    cfg = FULL if a.full else SMALL
    print("theory:", round(mean_field_rate(**cfg), 2), "Hz;", "simulated:", run(cfg, a.ms))
