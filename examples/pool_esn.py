"""Seed 000's comparison: functionally defined Pw_soma vs ESN-controlled secretion (Q-learning), as numbers.

The pool neuron of examples/pool_neuron.py (uniform input p = 0.1, high-frequency
windows p = 0.5, correlated windows) with its 2400-step protocol repeated ``reps``
times. Three soma-pool laws (P11 of pool_stdp): ``functional`` (Pw_soma += g (1 -
tanh C_soma), the seed's "functionally defined Pw dynamics"), ``fixed`` (the secr()
law with constant k_secr) and ``esn`` (``pool_esn``: k_secr chosen up/down/keep by
an echo-state-network Q-learner rewarded by -|C_soma - c_opt|). Reported for the last
repetition: mean |C_soma - c_opt| and the output rate per window. C_soma is
recomputed from the output spikes with (P13, P14), which is exactly the rule's state.

``--chip``: the same three laws compiled for loihi and run on the emulator (``pool_stdp``'s integer engine; the ESN
as the ``esn_q`` embedded-core controller, neuromap/embedded/esn_q.py). ``--seeds 0 1 2 3``: one row per law and
seed (the network's and the ESN's seed). ``--greedy-last``: the ESN explores (epsilon) in the first ``reps - 1``
repetitions and is evaluated greedily (epsilon 0, ``greedy_from``; still learning) in the last one, as RL is evaluated;
with ``--anneal`` epsilon falls linearly from 0.1 to 0 over those repetitions (``epsilon_schedule: linear``).

``python examples/pool_esn.py [--chip] [--seeds 0 1 2 3] [--greedy-last [--anneal]]``
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


def build(law: str, reps: int = 5, seed: int = 0, esn_seed: int | None = None,
          greedy_last: bool = False, anneal: bool = False) -> neuromap.Network:
    """The pool neuron under ``law``; ``esn_seed``: the ESN's seed (default: the example's, 1); ``greedy_last``: the
    ESN's exploration off in the last repetition (``anneal``: falling linearly to 0 until then)."""
    one = input_spikes(seed)
    times = [[t + r * STEPS for r in range(reps) for t in row] for row in one]
    net = neuromap.Network(name=f"pool_esn_{law}", dt=1.0, seed=seed)
    net.add_population("inp", N_IN, "spike_source", times=times)
    net.add_population("out", 1, "lif", **neuron_params())
    plasticity = dict(LAWS[law], **({"seed": esn_seed} if law == "esn" and esn_seed is not None else {}))
    if law == "esn" and greedy_last:
        plasticity["greedy_from"] = (reps - 1) * STEPS
        plasticity["epsilon_schedule"] = "linear" if anneal else "constant"
    net.connect("inp", "out", "all_to_all", weight=W0, delay=1, plasticity=plasticity)
    return net


def output_spikes(net: neuromap.Network, steps: int, chip: bool) -> np.ndarray:
    """bool per step: the output neuron spiked (float reference, or compiled for loihi and emulated)."""
    s = np.zeros(steps, bool)
    if chip:
        from emulator import emulate
        from neuromap.toolchain import compile_network
        img = compile_network(net, "loihi").image
        run = emulate(img, steps, "numba")
        s[run.spikes[run.spikes[:, 1] == img.population("out").start, 0]] = True
    else:
        s[neuromap.simulate(net, steps, backend="numpy").spikes["out"][0]] = True
    return s


def soma_calcium(out: np.ndarray, p: dict) -> np.ndarray:
    """C_soma after each step from the output spike train (P13, P14), clamped at 0 as in pool_stdp."""
    c, cs = 0.0, np.zeros(out.size)
    for k, o in enumerate(out):
        c = max(c + p["k_cg"] * o - (p["alpha_c"] * np.exp(p["beta_c"] * c) - p["gamma_c"]), 0.0)
        cs[k] = c
    return cs


def compare(reps: int = 5, seed: int = 0, chip: bool = False, esn_seed: int | None = None,
            greedy_last: bool = False, anneal: bool = False) -> dict[str, dict[str, float]]:
    """law -> {'dev': mean |C_soma - c_opt| over the last repetition, window rates ...}."""
    out = {}
    for law in LAWS:
        s = output_spikes(build(law, reps, seed, esn_seed, greedy_last, anneal), reps * STEPS, chip)
        cs = soma_calcium(s, LAWS[law])
        last = slice((reps - 1) * STEPS, reps * STEPS)
        row = {"dev": float(np.abs(cs[last] - C_OPT).mean()), "c_soma": float(cs[last].mean())}
        row.update({k: float(s[last][a:b].mean()) for k, (a, b) in WINDOWS.items()})
        out[law] = row
    return out


def main(argv=None) -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", action="store_true", help="compile for loihi and run on the emulator")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="network and ESN seeds (default: 0, ESN 1)")
    ap.add_argument("--greedy-last", action="store_true", help="ESN: no exploration in the last repetition")
    ap.add_argument("--anneal", action="store_true", help="with --greedy-last: epsilon falls linearly to 0 until then")
    a = ap.parse_args(argv)
    runs = [(s, s) for s in a.seeds] if a.seeds else [(0, None)]
    for seed, esn_seed in runs:
        rows = compare(seed=seed, chip=a.chip, esn_seed=esn_seed, greedy_last=a.greedy_last, anneal=a.anneal)
        keys = list(next(iter(rows.values())))
        print(f"{'chip' if a.chip else 'float'}, seed {seed}:")
        print("law         " + " ".join(f"{k:>8}" for k in keys))
        for law, r in rows.items():
            print(f"{law:<11} " + " ".join(f"{r[k]:8.3f}" for k in keys))


if __name__ == "__main__":
    main()
