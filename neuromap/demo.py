"""``make demo``: the main job on bundled examples.

1. Float reference: the seed-003 Ramp (Izhikevich, nn_stdp vs homeostatic_stdp)
   for 100 s from ``examples/ramp_izhikevich.yaml``, compared with ANNarchy's numbers.
2. The hardware path on ``examples/ramp_lif.yaml`` through the same commands a
   user runs: ``compile`` (check, quantize, fan-in, CP-SAT placement) ->
   ``run`` on the bit-accurate emulator (learning on chip) -> ``validate`` against Lava fixed_pt
   (the plastic build: the seed rules run in Lava as ``NeuromapPlasticSparse``, weights compared too) ->
   ``inspect`` summary -> ``plot`` into ``demo-out/``.
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
HW_EXAMPLE = os.path.join(os.path.dirname(EXAMPLE), "ramp_lif.yaml")
OUT = "demo-out"


def _neuromap(*args: str) -> None:
    """Run one ``neuromap`` command in-process, as the console script would; stop on failure."""
    from neuromap.cli import main as cli_main
    print(f"\n$ neuromap {' '.join(args)}", flush=True)
    try:
        cli_main(list(args))
    except SystemExit as e:
        if e.code not in (0, None):
            raise SystemExit(f"demo: `neuromap {' '.join(args)}` exited {e.code}") from None


def hardware_path(steps: int = 5000, validate_steps: int = 500) -> None:
    """compile -> run -> validate -> inspect -> plot on the LIF Ramp (writes into ``demo-out/``)."""
    build, results = os.path.join(OUT, "build"), os.path.join(OUT, "results.npz")
    os.makedirs(OUT, exist_ok=True)
    _neuromap("compile", HW_EXAMPLE, "--target", "loihi", "-o", build)
    _neuromap("run", build, "--backend", "emulator", "--steps", str(steps), "-o", results)
    from backends.lava.compat import lava_available
    if lava_available():  # the plastic Ramp in Lava (seed rules: backends/lava/procs/plastic_connection.py)
        _neuromap("validate", build, "--steps", str(validate_steps))
    else:
        print("lava-nc is not installed: skipping validation (install with `make install`)")
    _neuromap("inspect", build)
    _neuromap("plot", build, "--results", results, "--network", HW_EXAMPLE, "-o", os.path.join(OUT, "plots"))


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
    hardware_path()
    print(f"\ndemo done: image, results and plots in {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
