"""Seed 000 (Nikitin, Lukyanova & Kunin 2019): one neuron with receptor-pool-bounded STDP.

100 inputs spike independently with probability 0.1 per step (dt = 1 ms), 0.5 in the
high-frequency windows [600, 1000) and [1200, 2000); in the correlated windows
[200, 400) and [1200, 1400) the first 30 inputs also fire together whenever a common
Bernoulli process (probability 0.1 per step) fires. The neuron is the seed's threshold
unit O = [sum_m I_m W_m >= Tr], realized as a ``lif`` whose membrane forgets within one
step (tau_m = 0.001 ms, tau_syn = dt/ln 100): v = p * sum x with p ~ 0.01, plus a 1%
tail of the previous step, and v_th = p * Tr.

Variants: ``pool`` (the full rule, docs/models.md), ``no_pool`` (same, pool unlimited)
and ``naive`` (soft-bounded STDP only). Run ``python examples/pool_neuron.py`` for the
output rate (spikes/step) per window; ``--write-yaml`` regenerates pool_neuron.yaml.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import neuromap  # noqa: E402

STEPS, N_IN, N_CORR, SEED = 2400, 100, 30, 0
THRESHOLD = 0.3          # Tr, in weight units
W0 = 0.02                # initial weight of every synapse
HF_WINDOWS = ((600, 1000), (1200, 2000))
CORR_WINDOWS = ((200, 400), (1200, 1400))
#: output rate is reported over these windows (steps [a, b))
WINDOWS = {"base": (0, 200), "corr": (200, 400), "base2": (400, 600), "hf": (600, 1000),
           "base3": (1000, 1200), "corr_hf": (1200, 1400), "hf2": (1400, 2000), "base4": (2000, 2400)}
POOL = dict(a_plus=0.05, a_minus=0.05, tau_plus=5.0, tau_minus=5.0, w_min=0.0, w_max=0.1,
            pw_init=0.1, pw_set=0.1, alpha_r=0.5, k_pw=0.05, alpha_s=1.0, beta_s=0.5,
            alpha_c=0.2, beta_c=1.0, gamma_c=0.2, k_cg=0.5, soma_mode="functional", g_soma=0.01,
            pw_soma_init=0.1, alpha_ss=0.01, w_goal_sum=0.0)
VARIANTS = {"pool": POOL,
            "no_pool": dict(POOL, pw_init=1e9),
            "naive": dict(POOL, pw_init=1e9, k_pw=0.0, alpha_ss=0.0)}


def input_spikes(seed: int = SEED, steps: int = STEPS) -> list[list[int]]:
    """Spike steps of each input (uniform p=0.1, p=0.5 in HF windows, common events in correlated windows)."""
    rng = np.random.default_rng(seed)
    p = np.full(steps, 0.1)
    for a, b in HF_WINDOWS:
        p[a:b] = 0.5
    s = rng.random((steps, N_IN)) < p[:, None]
    corr = np.zeros(steps, dtype=bool)
    for a, b in CORR_WINDOWS:
        corr[a:b] = True
    common = (rng.random(steps) < 0.1) & corr
    s[:, :N_CORR] |= common[:, None]
    return [np.flatnonzero(s[:, i]).tolist() for i in range(N_IN)]


def neuron_params(dt: float = 1.0) -> dict:
    """lif parameters of the memoryless threshold unit: v = p * sum x, v_th = p * Tr."""
    tau_m, tau_syn = 1e-3, dt / math.log(100.0)
    a, b = math.exp(-dt / tau_m), math.exp(-dt / tau_syn)
    p = tau_syn / (tau_syn - tau_m) * (b - a)
    return dict(tau_m=tau_m, tau_syn=tau_syn, v_th=THRESHOLD * p, v_reset=0.0, refractory=0)


def build(variant: str = "pool", seed: int = SEED) -> neuromap.Network:
    net = neuromap.Network(name=f"pool_neuron_{variant}", dt=1.0, seed=seed)
    net.add_population("inp", N_IN, "spike_source", times=input_spikes(seed))   # ms (dt = 1)
    net.add_population("out", 1, "lif", **neuron_params())
    net.connect("inp", "out", "all_to_all", weight=W0, delay=1, plasticity={"rule": "pool_stdp", **VARIANTS[variant]})
    net.add_probe("out", "spikes")
    return net


def window_rates(out_spikes: np.ndarray) -> dict[str, float]:
    """Output spikes per step in each window; ``out_spikes``: bool[steps] of the neuron."""
    return {k: float(out_spikes[a:b].mean()) for k, (a, b) in WINDOWS.items()}


def run(variant: str = "pool", simulate=None) -> dict[str, float]:
    simulate = simulate or neuromap.simulate
    net = build(variant)
    return window_rates(output_spikes(simulate(net, STEPS), net))


def output_spikes(result, net) -> np.ndarray:
    """bool[steps] spike train of the output neuron from a simulation result."""
    steps, _ = result.spikes["out"]
    out = np.zeros(result.steps, dtype=bool)
    out[steps] = True
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-yaml", action="store_true", help="regenerate examples/pool_neuron.yaml")
    args = ap.parse_args(argv)
    if args.write_yaml:
        from neuromap.io import save_network
        save_network(build("pool"), os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool_neuron.yaml"))
        return
    for v in VARIANTS:
        print(f"{v:8s}", " ".join(f"{k}={r:.3f}" for k, r in run(v).items()))


if __name__ == "__main__":
    main()
