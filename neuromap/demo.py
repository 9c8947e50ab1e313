"""``make demo``: simulate a bundled seed example and print a readable summary.

For now: the seed-003 Ramp (Izhikevich, nn_stdp vs homeostatic_stdp) for 100 s
from ``examples/ramp_izhikevich.yaml``; later issues extend this to
compile -> place -> emulate -> validate.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from neuromap.io import load_network
from neuromap.simulator import simulate

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "ramp_izhikevich.yaml")
SECONDS = 100


def main(seconds: float = SECONDS) -> int:
    net = load_network(EXAMPLE)
    steps = int(seconds * 1000 / net.dt)
    print(f"neuromap demo: {os.path.relpath(EXAMPLE)} ({net.name}), {seconds:g} s simulated at dt = {net.dt} ms")
    for pop in net.populations.values():
        print(f"  population {pop.name}: {pop.size} x {pop.model}")
    for pr in net.projections:
        rule = pr.plasticity["rule"] if pr.plasticity else "static"
        print(f"  projection {pr.name}: {pr.pre} -> {pr.post}, {pr.n_synapses} synapses, "
              f"targets {'+'.join(pr.target)}, {rule}")
    t = time.perf_counter()
    res = simulate(net, steps)
    print(f"simulated in {time.perf_counter() - t:.2f} s ({res.backend} backend)")
    rate_in = np.asarray(net.populations["inp"].neuron["rate"])
    for pr in net.projections:
        w = res.weights[pr.name]
        r = res.rates[pr.post][0]
        corr = np.corrcoef(rate_in[pr.pre_idx], w)[0, 1]
        print(f"  {pr.post} ({pr.plasticity['rule']}): {r:6.2f} Hz, weights mean {w.mean():.4f} "
              f"[{w.min():.4f}, {w.max():.4f}], corr(weight, input rate) {corr:+.2f}")
    print("ANNarchy (1000 s): 55.75 Hz without homeostasis, 35.25 Hz with it (target 35 Hz); "
          "see examples/ramp_izhikevich.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
