"""Do two source trees compile the same images? Compiles the examples and a few random networks with
each tree (a subprocess with that tree on PYTHONPATH) and compares every image array by value (dtypes
may differ: narrowing is allowed) and the image's scalar metadata.

    python bench/image_identity.py OLD_TREE [NEW_TREE] [--placer sequential] [--random 4] [--bytes]
                                   [--extra brunel:10000,microcircuit:0.02] [--out image_identity]

OLD_TREE e.g. from ``git worktree add /tmp/old 8569f5d``. ``--bytes``: arrays must also have the same dtype
and bytes (byte-identical images, not only equal values). ``--extra``: more networks, ``brunel:N``
(bench/compile_scale.py's network of N neurons, 101 N synapses) and ``microcircuit:SCALE``
(examples/microcircuit.py for examples/targets/loihi_microcircuit.toml). Prints one line per network and writes
bench/results/<out>.json. Exit 1 if any image differs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["examples/ramp_lif.yaml", "examples/balanced_ei.yaml", "examples/lava_port_hw.yaml",
            "examples/pool_neuron.yaml", "examples/tn_feedforward.yaml"]
TARGET_OF = {"examples/tn_feedforward.yaml": "truenorth"}

_CHILD = r'''
import sys, numpy as np
from neuromap.io import load_network
try:                      # trees from before the compile result (compile_network returned the image)
    from neuromap.toolchain import compile_network
except ImportError:
    from neuromap.compiler import compile_network
kw = {}
if sys.argv[1].startswith("brunel:"):        # bench/compile_scale.py's network (builder of the NEW tree's bench)
    import importlib.util
    spec = importlib.util.spec_from_file_location("compile_scale_builder", sys.argv[5] + "/bench/compile_scale.py")
    b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
    n = int(sys.argv[1].split(":")[1])
    net, target = b.brunel(n), b.target_for(n)
elif sys.argv[1].startswith("microcircuit:"):
    sys.path.insert(0, sys.argv[5] + "/examples")
    import microcircuit
    from neuromap.targets import load_target
    net = microcircuit.build(float(sys.argv[1].split(":")[1]))
    target = load_target(sys.argv[5] + "/examples/targets/loihi_microcircuit.toml")
    kw = {"rate_check": "never"}
else:
    net, target = load_network(sys.argv[1]), sys.argv[2]
if sys.argv[3] == "cpsat":                   # the deterministic default placer (same result every run)
    kw.update(deterministic=True, time_limit=5)
img = compile_network(net, target=target, placer=sys.argv[3], **kw)
img = getattr(img, "image", img)
arrs = img.arrays()
meta = dict(n_cores=img.n_cores, projections=[(p.name, p.weight_exp, p.num_weight_bits, p.sign_mode, p.storage)
                                              for p in img.projections],
            populations=[vars(p) for p in img.populations])
np.savez(sys.argv[4], __meta__=np.array(repr(meta)), **arrs)
img.save(sys.argv[4][:-4] + ".img")
'''

_CHECK = r'''
import sys
from neuromap.image import load_image
from neuromap.errors import NeuromapError
try:
    load_image(sys.argv[1])
    print("valid")
except NeuromapError as e:
    print(str(e))
'''


def random_network(seed: int, path: Path) -> None:
    """A random hardware-unit or float network (several populations and rules) saved as YAML."""
    sys.path.insert(0, str(ROOT))
    import neuromap
    from neuromap.io import save_network
    rng = np.random.default_rng(seed)
    net = neuromap.Network(name=f"random{seed}", dt=1.0, seed=seed)
    hw = seed % 2 == 0
    sizes = {"in": int(rng.integers(20, 300))}
    net.add_population("in", sizes["in"], "poisson", rate=float(rng.uniform(5, 50)))
    for k in range(int(rng.integers(2, 4))):
        n = int(rng.integers(20, 1500))
        sizes[f"p{k}"] = n
        if hw:
            net.add_population(f"p{k}", n, "loihi_lif", du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                               vth=int(rng.integers(1, 1000)), bias_mant=0, bias_exp=0)
        else:
            net.add_population(f"p{k}", n, "lif", tau_m=20.0, tau_syn=5.0, v_th=1.0, v_reset=0.0)
    names = list(sizes)
    for _ in range(int(rng.integers(3, 7))):
        pre, post = names[int(rng.integers(0, len(names)))], names[int(rng.integers(1, len(names)))]
        rule = ["all_to_all", "fixed_probability", "fixed_indegree"][int(rng.integers(0, 3))]
        spec = {"rule": rule}
        if rule == "fixed_probability":
            spec["p"] = float(rng.uniform(0.01, 0.2))
        elif rule == "fixed_indegree":
            spec["k"] = int(rng.integers(1, min(sizes[pre], 60) + 1))
        elif sizes[pre] * sizes[post] > 200_000:
            spec = {"rule": "fixed_probability", "p": 0.05}
        if hw:
            w = {"uniform_int": [-200, 200]} if rng.random() < 0.5 else int(rng.integers(1, 255))
            net.connect(pre, post, spec, weight=w, delay={"uniform_int": [1, int(rng.integers(1, 20))]},
                        weight_exp=int(rng.integers(0, 4)), num_weight_bits=int(rng.integers(4, 9)),
                        sign_mode="mixed" if isinstance(w, dict) else "excitatory")
        else:
            net.connect(pre, post, spec, weight={"uniform": [0.01, 0.2]}, delay=int(rng.integers(1, 5)),
                        target="exc" if rng.random() < 0.7 else "inh")
    save_network(net, path)


def compile_with(tree: Path, network: str, target: str, placer: str, out: Path) -> str | None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    r = subprocess.run([sys.executable, "-c", _CHILD, network, target, placer, str(out), str(ROOT)], env=env,
                       cwd=str(tree),
                       capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


def compare(a: Path, b: Path, same_bytes: bool = False) -> list[str]:
    diffs = []
    with np.load(a) as za, np.load(b) as zb:
        if str(za["__meta__"]) != str(zb["__meta__"]):
            diffs.append("metadata (cores, projections, populations)")
        for k in sorted(set(za.files) | set(zb.files)):
            if k == "__meta__":
                continue
            if k not in za.files or k not in zb.files:
                diffs.append(f"{k} only in {'new' if k in zb.files else 'old'}")
                continue
            x, y = za[k], zb[k]
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f" and y.dtype.kind == "f"):
                diffs.append(k)
            elif same_bytes and (x.dtype != y.dtype or x.tobytes() != y.tobytes()):
                diffs.append(f"{k} (bytes: {x.dtype} vs {y.dtype})")
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(ROOT))
    ap.add_argument("--placer", default="sequential")
    ap.add_argument("--random", type=int, default=4)
    ap.add_argument("--bytes", action="store_true", help="also require the same dtypes and bytes")
    ap.add_argument("--extra", default="", help="more networks: brunel:N,microcircuit:SCALE")
    ap.add_argument("--no-examples", action="store_true", help="only the --extra and --random networks")
    ap.add_argument("--out", default="image_identity", help="results file name in bench/results (.json)")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="identity."))
    nets = [] if a.no_examples else [(str(ROOT / e), TARGET_OF.get(e, "loihi"), e) for e in EXAMPLES]
    nets += [(x, "-", x.replace(":", "_").replace(".", "p")) for x in a.extra.split(",") if x]
    for s in range(a.random):
        p = work / f"random{s}.yaml"
        random_network(s, p)
        nets.append((str(p), "loihi", p.name))
    rows = []
    for path, target, name in nets:
        res = {}
        for side, tree in (("old", Path(a.old)), ("new", Path(a.new))):
            res[side] = compile_with(tree, path, target, a.placer, work / f"{side}.{Path(name).stem}.npz")
        if res["old"] or res["new"]:
            status = "identical" if res["old"] == res["new"] else "different"
            row = {"network": name, "status": f"both refused ({res['old']})" if status == "identical"
                   else "different", "old_error": res["old"], "new_error": res["new"]}
        else:
            d = compare(work / f"old.{Path(name).stem}.npz", work / f"new.{Path(name).stem}.npz", a.bytes)
            row = {"network": name, "status": "identical" if not d else "different", "differs": d}
            if d:   # is the old image valid under the new tree's verifier (one capacity accounting)?
                r = subprocess.run([sys.executable, "-c", _CHECK, str(work / f"old.{Path(name).stem}.img")],
                                   env=dict(os.environ, PYTHONPATH=a.new), capture_output=True, text=True)
                why = r.stdout.strip() or r.stderr.strip()[-200:]
                row["old_image_under_new_verifier"] = why
                if why != "valid":
                    row["status"] = "different: the old image is refused by the new verifier"
        rows.append(row)
        print(json.dumps(row))
    out = ROOT / "bench" / "results" / f"{a.out}.json"
    out.write_text(json.dumps({"old": a.old, "new": a.new, "placer": a.placer, "bytes": a.bytes, "rows": rows},
                              indent=1) + "\n")
    return 0 if all(r["status"] != "different" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
