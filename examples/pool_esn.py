"""Seed 000's comparison: functionally defined Pw_soma vs ESN-controlled secretion (Q-learning), as numbers.

The pool neuron of examples/pool_neuron.py (uniform input p = 0.1, high-frequency
windows p = 0.5, correlated windows) with its 2400-step protocol repeated ``reps``
times. Three soma-pool laws (P11 of pool_stdp): ``functional`` (Pw_soma += g (1 -
tanh C_soma), the seed's "functionally defined Pw dynamics"), ``fixed`` (the secr()
law with constant k_secr) and ``esn`` (``pool_esn``: k_secr chosen up/down/keep by
an echo-state-network Q-learner rewarded by -|C_soma - c_opt|). Reported for the last
repetition: mean |C_soma - c_opt| and the output rate per window. C_soma is
recomputed from the output spikes with (P13, P14), which is exactly the rule's state.

``python examples/pool_esn.py``
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                os.path.dirname(os.path.abspath(__file__))]
from pool_neuron import N_IN, POOL, STEPS, W0, WINDOWS, input_spikes, neuron_params  # noqa: E402

import neuromap  # noqa: E402

C_OPT = 0.3
SECRETION = dict(POOL, soma_mode="secretion", alpha_secr=0.1, k_secr=0.0)
ESN = dict(SECRETION, rule="pool_esn", c_opt=C_OPT, period=10, dk=0.5, k_max=4.0, n_res=50, lr=0.05,
           gamma=0.9, epsilon=0.1, seed=1)
LAWS = {"functional": dict(POOL, rule="pool_stdp"), "fixed": dict(SECRETION, rule="pool_stdp"), "esn": ESN}


def build(law: str, reps: int = 5, seed: int = 0) -> neuromap.Network:
    one = input_spikes(seed)
    times = [[t + r * STEPS for r in range(reps) for t in row] for row in one]
    net = neuromap.Network(name=f"pool_esn_{law}", dt=1.0, seed=seed)
    net.add_population("inp", N_IN, "spike_source", times=times)
    net.add_population("out", 1, "lif", **neuron_params())
    net.connect("inp", "out", "all_to_all", weight=W0, delay=1, plasticity=LAWS[law])
    return net


def soma_calcium(out: np.ndarray, p: dict) -> np.ndarray:
    """C_soma after each step from the output spike train (P13, P14), clamped at 0 as in pool_stdp."""
    c, cs = 0.0, np.zeros(out.size)
    for k, o in enumerate(out):
        c = max(c + p["k_cg"] * o - (p["alpha_c"] * np.exp(p["beta_c"] * c) - p["gamma_c"]), 0.0)
        cs[k] = c
    return cs


def compare(reps: int = 5) -> dict[str, dict[str, float]]:
    """law -> {'dev': mean |C_soma - c_opt| over the last repetition, window rates ...}."""
    out = {}
    for law in LAWS:
        net = build(law, reps)
        res = neuromap.simulate(net, reps * STEPS, backend="numpy")
        s = np.zeros(reps * STEPS, bool)
        s[res.spikes["out"][0]] = True
        cs = soma_calcium(s, LAWS[law])
        last = slice((reps - 1) * STEPS, reps * STEPS)
        row = {"dev": float(np.abs(cs[last] - C_OPT).mean()), "c_soma": float(cs[last].mean())}
        row.update({k: float(s[last][a:b].mean()) for k, (a, b) in WINDOWS.items()})
        out[law] = row
    return out


def main() -> None:
    rows = compare()
    keys = list(next(iter(rows.values())))
    print("law         " + " ".join(f"{k:>8}" for k in keys))
    for law, r in rows.items():
        print(f"{law:<11} " + " ".join(f"{r[k]:8.3f}" for k in keys))


if __name__ == "__main__":
    main()
