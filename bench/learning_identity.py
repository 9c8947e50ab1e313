"""Do two source trees compile and run plastic networks to the same integers? For every plastic example (and
a few extra rule variants) each tree (a subprocess with that tree on PYTHONPATH) compiles the network,
saves the image, emulates it with the numpy and numba engines (the numba one takes the fused plastic loop
when it can) and records sha256 digests of the manifest's learning dicts, every image array, the spikes,
the recorded weights and the final u/v.

    python bench/learning_identity.py OLD_TREE [NEW_TREE] [--steps 300]

OLD_TREE e.g. from ``git worktree add /tmp/old db1b808``. Prints one line per network and writes
bench/results/learning_identity.json. Exit 1 if anything differs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ["examples/ramp_lif.yaml", "examples/balanced_ei.yaml", "examples/pool_neuron.yaml",
            "py:examples.spatial_balanced_ei:small", "py:examples.pool_esn:build:functional",
            "py:examples.pool_esn:build:fixed", "py:bench.clopath_accuracy:pairing_network:20.0:10.0",
            "py:bench.clopath_accuracy:pairing_network:5.0:-10.0", "py:examples.balanced_ei:build",
            "examples/lava_port_hw.yaml"]

_CHILD = r'''
import hashlib, importlib, json, sys
import numpy as np
from neuromap.io import load_network
from neuromap.compiler import compile_network
from neuromap.image import load_image
from emulator import emulate

def h(*arrays):
    d = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        d.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return d.hexdigest()[:16]

spec, steps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if spec.startswith("py:"):
    mod, fn, *args = spec[3:].split(":")
    args = [int(a) if a.isdigit() else float(a) if a.lstrip("-").replace(".", "").isdigit() else a for a in args]
    net = getattr(importlib.import_module(mod), fn)(*args)
    net = net[0] if isinstance(net, tuple) else net
else:
    net = load_network(spec)
img = net if type(net).__name__ == "Image" else compile_network(net)
img = getattr(img, "image", img)          # CompileResult (newer trees) or Image
img.save(out)
img = load_image(out)
man = json.loads((__import__("pathlib").Path(out) / "manifest.json").read_text())
res = {"learning": hashlib.sha256(json.dumps([p.get("learning") for p in man["projections"]]).encode()).hexdigest()[:16],
       "arrays": h(*[v for _, v in sorted(img.arrays().items())])}
for engine in ("numpy", "numba"):
    r = emulate(img, steps, engine, weight_every=max(steps // 4, 1))
    w = [v for _, v in sorted(getattr(r, "weights", {}).items())] if getattr(r, "weights", None) else []
    res[engine] = h(r.spikes, r.v, r.u, r.final_u, r.final_v, *w)
print(json.dumps(res))
'''


def run_tree(tree: str, spec: str, steps: int) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([sys.executable, "-c", _CHILD, spec, str(steps), str(Path(d) / "img")], cwd=tree, env=env,
                           capture_output=True, text=True)
    if p.returncode:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(ROOT))
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args(argv)
    rows, bad = [], 0
    for spec in NETWORKS:
        old, new = run_tree(a.old, spec, a.steps), run_tree(a.new, spec, a.steps)
        same = old == new and "error" not in old
        bad += not same
        rows.append({"network": spec, "identical": same, "old": old, "new": new})
        print(f"{'same' if same else 'DIFF'}  {spec}  {new}" + ("" if same else f"  old {old}"), flush=True)
    out = ROOT / "bench" / "results" / "learning_identity.json"
    out.write_text(json.dumps({"steps": a.steps, "loadavg": os.getloadavg(), "rows": rows}, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
