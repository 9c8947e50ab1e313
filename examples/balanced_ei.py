"""Seed 004 (Zhu & Rosenbaum 2020; Vogels et al. 2011): a balanced E/I network whose
excitatory rate is brought to the target rate rho0 by inhibitory STDP (``vogels_isp``) on the
I -> E synapses.

Current-based ``lif`` neurons (tau_m = 20 ms, tau_syn = 5 ms, v_th = 1), NE = 400, NI = 100,
sparse random connectivity (p = 0.1, fixed in-degree), an external Poisson population X
(NX = 400, 10 Hz). The I -> E weights start weak, so E fires well above rho0; ISP raises them
until E fires at rho0. ``python examples/balanced_ei.py`` prints the E and I rates per second.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import neuromap  # noqa: E402

NE, NI, NX, K = 400, 100, 400, 0.1
RHO0 = 5.0                     # Hz, ISP target rate of E
STEPS = 8000                   # dt = 1 ms
LIF = dict(tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, refractory=2)
#: (pre, post) -> weight; I -> E starts weak and is plastic
W = {("X", "E"): 0.5, ("X", "I"): 0.5, ("E", "E"): 0.1, ("E", "I"): 0.2,
     ("I", "E"): 0.1, ("I", "I"): 0.4}
ISP = dict(rule="vogels_isp", eta=5e-2, rho0=RHO0, tau_stdp=20.0, w_min=0.0, w_max=5.0)


def build(seed: int = 1, plastic: bool = True) -> neuromap.Network:
    net = neuromap.Network(name="balanced_ei", dt=1.0, seed=seed)
    net.add_population("X", NX, "poisson", rate=10.0)
    net.add_population("E", NE, "lif", **LIF)
    net.add_population("I", NI, "lif", **LIF)
    sizes = {"X": NX, "E": NE, "I": NI}
    for (pre, post), w in W.items():
        k = int(round(K * sizes[pre]))
        net.connect(pre, post, {"rule": "fixed_indegree", "k": k}, weight=w, delay=1,
                    target="inh" if pre == "I" else "exc",
                    plasticity=ISP if (plastic and (pre, post) == ("I", "E")) else None)
    net.add_probe("E", "spikes")
    net.add_probe("I", "spikes")
    return net


def rates(spikes: np.ndarray, dt: float = 1.0, window: int = 1000) -> np.ndarray:
    """Population rate (Hz) in consecutive windows of ``window`` steps; spikes: bool[steps, n]."""
    n = spikes.shape[0] // window
    return spikes[: n * window].reshape(n, window, -1).mean(axis=(1, 2)) * 1000.0 / dt


def run(steps: int = STEPS, plastic: bool = True, simulate=None) -> dict[str, np.ndarray]:
    """Rates (Hz) per second of E and I."""
    simulate = simulate or neuromap.simulate
    res = simulate(build(plastic=plastic), steps)
    return {p: rates(spike_matrix(res, p, n)) for p, n in (("E", NE), ("I", NI))}


def spike_matrix(res, pop: str, size: int) -> np.ndarray:
    """bool[steps, size] spike raster of ``pop`` from a :class:`neuromap.simulator.result.SimResult`."""
    s = np.zeros((res.steps, size), dtype=bool)
    t, i = res.spikes[pop]
    s[t, i] = True
    return s


if __name__ == "__main__":
    for plastic in (False, True):
        r = run(plastic=plastic)
        print("ISP" if plastic else "static", "E:", np.round(r["E"], 2), "I:", np.round(r["I"], 2))
