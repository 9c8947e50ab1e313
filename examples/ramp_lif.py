"""The seed-003 Ramp with current-based ``lif`` neurons: the version that can go to hardware.

Same experiment as ``ramp_izhikevich.py`` (100 Poisson inputs at linspace(0.2, 20) Hz,
all-to-all, ``pop1`` with ``nn_stdp``, ``pop2`` with ``homeostatic_stdp``, Rtarget = 35 Hz),
with lif neurons (tau_m = 20 ms, tau_syn = 5 ms, v_th = 1, refractory 2 steps) and
weights rescaled to them: w_max = 0.45, initial weights uniform(0.15, 0.45), STDP
amplitudes scaled by w_max/0.03 = 15. Without homeostasis the weights saturate and the
neuron fires near 68 Hz; with it the rate settles near 35 Hz and the weights grow with
the input rate (the homeostatic effect of seed 003).

``python examples/ramp_lif.py [seconds]`` (same network as ``ramp_lif.yaml``).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ramp_izhikevich import summarize  # noqa: E402

import neuromap  # noqa: E402

N_IN = 100
SECONDS = 1000
W_MAX = 0.45
NEURON = {"model": "lif", "tau_m": 20.0, "tau_syn": 5.0, "v_th": 1.0, "v_reset": 0.0, "refractory": 2}
STDP = {"tau_plus": 20.0, "tau_minus": 60.0, "A_plus": 0.003, "A_minus": 0.00099, "w_min": 0.0, "w_max": W_MAX}
HOMEO = {**STDP, "alpha": 0.1, "beta": 1.0, "gamma": 50.0, "Rtarget": 35.0, "T": 5000.0}


def build(seed: int = 7) -> neuromap.Network:
    net = neuromap.Network(name="ramp_lif", dt=1.0, seed=seed)
    net.add_population("inp", N_IN, "poisson", rate={"linspace": [0.2, 20.0]})
    net.add_population("pop1", 1, dict(NEURON))
    net.add_population("pop2", 1, dict(NEURON))
    for pop, rule in (("pop1", {"rule": "nn_stdp", **STDP}), ("pop2", {"rule": "homeostatic_stdp", **HOMEO})):
        net.connect("inp", pop, "all_to_all", weight={"uniform": [0.15, W_MAX]}, target="exc",
                    plasticity=rule, name=f"inp_{pop}")
    net.add_probe("pop1", "spikes")
    net.add_probe("pop2", "spikes")
    return net


def main(seconds: float = SECONDS) -> dict:
    net = build()
    res = neuromap.simulate(net, int(seconds * 1000 / net.dt))
    s = summarize(res, net)
    print(f"Ramp (lif), {seconds:g} s, backend {res.backend}")
    for pop, label in (("pop1", "without homeostasis"), ("pop2", "with homeostasis (target 35 Hz)")):
        d = s[pop]
        print(f"  {pop} {label}: mean r {d['mean_r_hz']:.2f} Hz, w mean {d['w_mean']:.3f}, "
              f"w inputs <4 Hz {d['w_low_inputs']:.3f}, >16 Hz {d['w_high_inputs']:.3f}, "
              f"corr(w, input rate) {d['w_rate_corr']:+.2f}")
    return s


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
