"""Plastic emulator speed of two source trees, alternating runs: the fused numba loop and the per-step numpy
path on plastic examples (vogels_isp on the spatial E/I sheet, nn_stdp + homeostatic_stdp on the LIF Ramp,
pool_stdp on the pool neuron, clopath on the pairing network (fused since it has a kernel; the per-step path
under numba before), the Loihi engine (``stdp_loihi``) on bench.emulator_plastic's LIF(1000) -> 10 % -> LIF(1000)).

    python bench/learning_speed.py OLD_TREE [NEW_TREE] [--reps 3] [--only TEXT] [--out FILE]

Each measurement is a subprocess with that tree on PYTHONPATH: compile, warm up (10 steps, compile time
excluded), then time ``steps`` steps. Medians of ``reps`` alternating runs, the load average before each,
written to bench/results/learning_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: (label, network spec, engine, steps)
CASES = [("spatial E/I sheet vogels_isp, fused numba", "py:examples.spatial_balanced_ei:small", "numba", 3000),
         ("LIF Ramp nn+homeostatic, fused numba", "examples/ramp_lif.yaml", "numba", 20000),
         ("pool neuron pool_stdp, fused numba", "examples/pool_neuron.yaml", "numba", 20000),
         ("clopath pairing, numba (fused when clopath has a kernel)",
          "py:bench.clopath_accuracy:pairing_network:20.0:10.0", "numba", 2000),
         ("LIF Ramp nn+homeostatic, per-step numpy", "examples/ramp_lif.yaml", "numpy", 2000),
         ("spatial E/I sheet vogels_isp, per-step numpy", "py:examples.spatial_balanced_ei:small", "numpy", 300),
         ("pool neuron pool_stdp, per-step numpy", "examples/pool_neuron.yaml", "numpy", 2000),
         ("clopath pairing, per-step numpy", "py:bench.clopath_accuracy:pairing_network:20.0:10.0", "numpy", 2000),
         ("STDPLoihi LIF(1000)->10%->LIF(1000), loihi engine, numba", "stdp_loihi:1000", "numba",
          300),
         ("STDPLoihi LIF(1000)->10%->LIF(1000), loihi engine, per-step numpy", "stdp_loihi:1000",
          "numpy", 100)]

_CHILD = r'''
import importlib, json, sys, time
from neuromap.io import load_network
from neuromap.compiler import compile_network
from emulator import emulate
spec, engine, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
img = None
if spec.startswith("stdp_loihi:"):          # bench/emulator_plastic.py's image, built here (both trees)
    import numpy as np
    from bench.emulator_scale import LIF_POST, LIF_PRE, network_arrays
    from neuromap.network import Network
    n = int(spec.split(":")[1])
    bias, pre, post, w = network_arrays(n, n // 10)
    net = Network(seed=1)
    net.add_population("pre", n, neuron="loihi_lif", bias_mant=bias.tolist(), **LIF_PRE)
    net.add_population("post", n, neuron="loihi_lif", **LIF_POST)
    net.connect("pre", "post", connect={"rule": "list", "pre": pre, "post": post}, weight=np.where(w == 0, 2, w),
                plasticity={"rule": "stdp_loihi", "learning_rate": 2 ** -4, "A_plus": 1, "A_minus": -1,
                            "tau_plus": 10, "tau_minus": 10, "rng_seed": 1},
                weight_exp=0, num_weight_bits=8, sign_mode="mixed")
    img = compile_network(net)                # the default pipeline: an image the verifier accepts
    img = getattr(img, "image", img)
elif spec.startswith("py:"):
    mod, fn, *args = spec[3:].split(":")
    net = getattr(importlib.import_module(mod), fn)(*[float(a) for a in args])
    net = net[0] if isinstance(net, tuple) else net
else:
    net = load_network(spec)
if img is None:
    img = compile_network(net, placer="sequential")
    img = getattr(img, "image", img)          # CompileResult (newer trees) or Image
emulate(img, 10, engine)
t = time.perf_counter()
r = emulate(img, steps, engine)
print(json.dumps({"seconds": time.perf_counter() - t, "spikes": int(r.spikes.shape[0])}))
'''


def measure(tree: str, spec: str, engine: str, steps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, "-c", _CHILD, spec, engine, str(steps)], cwd=tree, env=env,
                       capture_output=True, text=True, check=False)
    if p.returncode:
        raise RuntimeError(p.stderr.strip().splitlines()[-1])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(ROOT))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="", help="run the cases whose label contains this")
    ap.add_argument("--out", default="learning_speed.json", help="file name under bench/results/")
    a = ap.parse_args(argv)
    rows = []
    for label, spec, engine, steps in [c for c in CASES if a.only in c[0]]:
        t = {"old": [], "new": []}
        load = []
        spikes = {}
        for _ in range(a.reps):
            for side in ("old", "new"):
                load.append(os.getloadavg()[0])
                m = measure(getattr(a, side), spec, engine, steps)
                t[side].append(m["seconds"])
                spikes[side] = m["spikes"]
        row = {"case": label, "steps": steps, "old_s": statistics.median(t["old"]),
               "new_s": statistics.median(t["new"]), "runs": t, "loadavg_1min": load,
               "same_spikes": spikes["old"] == spikes["new"]}
        row["new_over_old"] = row["new_s"] / row["old_s"]
        rows.append(row)
        print(f"{label}: old {row['old_s'] * 1e3:.1f} ms, new {row['new_s'] * 1e3:.1f} ms, ratio "
              f"{row['new_over_old']:.3f} (load {min(load):.1f}-{max(load):.1f})", flush=True)
    out = ROOT / "bench" / "results" / a.out
    out.write_text(json.dumps({"reps": a.reps, "old": a.old, "new": a.new, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
