"""Seed 003 "Ramp" (ANNarchy homeostatic STDP notebook, Carlson et al. 2013), exact Izhikevich/AMPA/NMDA model.

100 Poisson inputs at linspace(0.2, 20) Hz drive two regular-spiking Izhikevich
neurons all-to-all (weights uniform(0.01, 0.03), targets ampa + nmda): ``pop1``
learns with nearest-neighbour STDP (``nn_stdp``), ``pop2`` with homeostatic
STDP (``homeostatic_stdp``, Rtarget = 35 Hz). 1000 s at dt = 1 ms.
ANNarchy's published mean rates: 55.75 Hz without homeostasis, 35.25 Hz with it;
with homeostasis the final weights grow with the input rate.

``python examples/ramp_izhikevich.py [seconds]`` builds the network with the API
(the same network as ``ramp_izhikevich.yaml``), simulates and prints the summary.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import neuromap  # noqa: E402

N_IN = 100
SECONDS = 1000
NEURON = {"model": "izhikevich", "a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "tau_ampa": 5.0, "tau_nmda": 150.0,
          "vrev": 0.0}
STDP = {"tau_plus": 20.0, "tau_minus": 60.0, "A_plus": 0.0002, "A_minus": 0.000066, "w_min": 0.0, "w_max": 0.03}
HOMEO = {**STDP, "alpha": 0.1, "beta": 1.0, "gamma": 50.0, "Rtarget": 35.0, "T": 5000.0}
RATE_WINDOW_MS = 5000.0  # ANNarchy compute_firing_rate(5000.)


def build(seed: int = 7) -> neuromap.Network:
    net = neuromap.Network(name="ramp_izhikevich", dt=1.0, seed=seed)
    net.add_population("inp", N_IN, "poisson", rate={"linspace": [0.2, 20.0]})
    net.add_population("pop1", 1, dict(NEURON))
    net.add_population("pop2", 1, dict(NEURON))
    net.connect("inp", "pop1", "all_to_all", weight={"uniform": [0.01, 0.03]}, target=["ampa", "nmda"],
                plasticity={"rule": "nn_stdp", **STDP}, name="inp_pop1")
    net.connect("inp", "pop2", "all_to_all", weight={"uniform": [0.01, 0.03]}, target=["ampa", "nmda"],
                plasticity={"rule": "homeostatic_stdp", **HOMEO}, name="inp_pop2")
    net.add_probe("pop1", "spikes")
    net.add_probe("pop2", "spikes")
    return net


def mean_sliding_rate(spike_steps: np.ndarray, steps: int, dt: float = 1.0,
                      window_ms: float = RATE_WINDOW_MS) -> float:
    """Mean over all steps of ANNarchy's r: spikes in (t - W, t] * 1000/window (what the notebook averages)."""
    w = int(window_ms / dt)
    c = np.cumsum(np.bincount(spike_steps, minlength=steps)[:steps])
    past = np.concatenate([np.zeros(w, c.dtype), c[:-w]]) if steps > w else np.zeros(steps, c.dtype)
    return float(np.mean((c - past) * 1000.0 / window_ms))


def summarize(res, net: neuromap.Network) -> dict:
    """Rates (Hz) of both neurons and the weight/input-rate correlation of each projection."""
    rate_in = np.asarray(net.populations["inp"].neuron["rate"])
    out = {}
    for pop, proj in (("pop1", "inp_pop1"), ("pop2", "inp_pop2")):
        w = res.weights[proj]
        pre = net.projections[[p.name for p in net.projections].index(proj)].pre_idx
        out[pop] = {"rate_hz": float(res.rates[pop][0]),
                    "mean_r_hz": mean_sliding_rate(res.spikes[pop][0], res.steps, res.dt),
                    "w_mean": float(w.mean()), "w_rate_corr": float(np.corrcoef(rate_in[pre], w)[0, 1]),
                    "w_low_inputs": float(w[pre < 20].mean()), "w_high_inputs": float(w[pre >= 80].mean())}
    return out


def main(seconds: float = SECONDS) -> dict:
    net = build()
    res = neuromap.simulate(net, int(seconds * 1000 / net.dt))
    s = summarize(res, net)
    print(f"Ramp (Izhikevich, seed 003), {seconds:g} s, backend {res.backend}")
    for pop, label, ref in (("pop1", "without homeostasis", 55.75), ("pop2", "with homeostasis", 35.25)):
        d = s[pop]
        print(f"  {pop} {label}: mean r {d['mean_r_hz']:.2f} Hz (ANNarchy {ref} Hz), spikes/s {d['rate_hz']:.2f}, "
              f"w mean {d['w_mean']:.4f}, corr(w, input rate) {d['w_rate_corr']:+.2f}")
    return s


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
