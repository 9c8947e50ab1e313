"""Lava backend: export time at 10k neurons / 1M synapses, and Lava vs emulator run time on one image.

* ``export_*``: a ``loihi_lif`` network of 10 000 neurons (8 000 E + 2 000 I, fixed in-degree 80 + 20
  = 1 000 000 synapses, delays 1..4) plus 1 000 Poisson inputs is compiled (not timed); then
  :func:`backends.lava.export.export_script` (plan + script + .npz) and :func:`plan_image` alone are
  timed (best of 3). Goal: export < 2 s.
* ``run_*``: ``examples/lava_port_hw.yaml`` (48 neurons, 615 synapses) for 1 000 steps: the whole
  Lava run (build processes, spawn, run on ``Loihi2SimCfg(select_tag="fixed_pt")``, read back, stop)
  against the numba emulator (after one warm-up run that compiles it), both returning ``Results``.
  The ratio is what the emulator issue optimizes.
"""
from __future__ import annotations

import os
import tempfile
import time

NAME = "lava_export"
DESCRIPTION = "Lava backend: export of 10k neurons / 1M synapses; Lava vs emulator run time (lava_port_hw)"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def big_network(n_exc: int = 8000, n_inh: int = 2000, k_exc: int = 80, k_inh: int = 20, n_inp: int = 1000):
    """The 10k-neuron / 1M-synapse hardware-unit network of the export benchmark."""
    import neuromap
    net = neuromap.Network(name="lava_export_10k", seed=5)
    lif = dict(neuron="loihi_lif", du=410, dv=205, vth=600, bias_exp=6)
    net.add_population("X", n_inp, "poisson", rate=5.0)
    net.add_population("E", n_exc, bias_mant=100, **lif)
    net.add_population("I", n_inh, bias_mant=100, **lif)
    hw = dict(weight_exp=3, num_weight_bits=8)
    net.connect("E", "E", {"rule": "fixed_indegree", "k": k_exc}, weight=20, delay={"uniform_int": [1, 4]},
                sign_mode="excitatory", **hw)
    net.connect("E", "I", {"rule": "fixed_indegree", "k": k_exc}, weight=20, delay=1, sign_mode="excitatory", **hw)
    net.connect("I", "E", {"rule": "fixed_indegree", "k": k_inh}, weight=-60, delay=1, sign_mode="inhibitory", **hw)
    net.connect("I", "I", {"rule": "fixed_indegree", "k": k_inh}, weight=-60, delay=1, sign_mode="inhibitory", **hw)
    net.connect("X", "E", {"rule": "one_to_one"} if n_inp == n_exc else {"rule": "fixed_indegree", "k": 2},
                weight=100, delay=1, sign_mode="excitatory", **hw)
    return net


def _best(fn, n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(quick: bool = False) -> dict:
    from backends.emulator import run as run_emulator
    from backends.lava.export import export_script
    from backends.lava.plan import plan_image
    from backends.lava.run import run as run_lava
    from neuromap.toolchain import compile_network
    from neuromap.io import load_network

    img = compile_network(big_network()).image
    out = {"export_neurons": img.n_neurons, "export_synapses": img.n_synapses}
    with tempfile.TemporaryDirectory() as d:
        out["export_s"] = round(_best(lambda: export_script(img, os.path.join(d, "net_lava.py"))), 3)
        out["export_npz_mb"] = round(os.path.getsize(os.path.join(d, "net_lava.npz")) / 1e6, 1)
    out["plan_s"] = round(_best(lambda: plan_image(img)), 3)

    steps = 200 if quick else 1000
    small = compile_network(load_network(os.path.join(ROOT, "examples", "lava_port_hw.yaml"))).image
    run_emulator(small, 10)                                   # numba warm-up
    out["run_steps"] = steps
    out["emulator_run_s"] = round(_best(lambda: run_emulator(small, steps), 3), 4)
    out["lava_run_s"] = round(_best(lambda: run_lava(small, steps), 1 if quick else 2), 2)
    out["lava_over_emulator"] = round(out["lava_run_s"] / out["emulator_run_s"], 0)
    out["load_avg_1min"] = round(os.getloadavg()[0], 1)
    return out


if __name__ == "__main__":
    print(run(quick=True))
