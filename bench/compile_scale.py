"""Compile at scale (issue 16 items 1 and 3): wall time, time per pass and verifier, peak RSS and
bytes per synapse of ``compile --placer sequential`` on Brunel-style networks of 1 M, 10 M and more
synapses, and the same on an older source tree in the same run.

Network (:func:`brunel`): N LIF neurons (80 % E, 20 % I), each receiving K = 100 synapses (fixed
in-degree, 80 from E, 20 from I) and one private Poisson input (N inputs, one_to_one): N * (K + 1)
synapses; N = 10 k -> 1.01 M, 100 k -> 10.1 M (issue 16's 216 s / 5.2 GB network), 1 M -> 101 M.
Targets: ``loihi`` (4096 cores) while it fits, else a copy with as many chips as the network needs.

Every size runs in its own subprocess (``--child``), which builds the network, compiles it through
:func:`neuromap.compiler.compile_network` (every pass and verifier; a failing verifier fails the
benchmark), saves the image and reports its ``resource.getrusage`` peak RSS. The per-pass split wraps
each pass's ``run`` and ``verify`` with a timer. Sizes alternate new/old tree where both run.

    python -m bench.compile_scale [--sizes 10000,100000] [--old /tmp/old] [--repeat 3] [--profile]

Writes bench/results/compile_scale.{json,md}. ``--profile`` also counts Python function calls
(cProfile) per size, to show that no compile path loops per synapse or per neuron in Python.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

NAME = "compile_scale"
DESCRIPTION = ("compile --placer sequential of Brunel-style networks (in-degree 100 + one Poisson input "
               "per neuron): wall time, s per million synapses, peak RSS and bytes per synapse")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
K_IN = 100
ISSUE_BEFORE = {"synapses": 10_100_000, "wall_s": 216.0, "peak_rss_gb": 5.2,
                "split": "verify_assignment 146 s (68 %), lower_to_image 29 s, place_graph 17 s"}

_CHILD = r'''
import cProfile, json, os, resource, sys, tempfile, time
t_start = time.perf_counter()
n, k, profile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
import importlib.util
spec = importlib.util.spec_from_file_location("compile_scale_builder", sys.argv[4])
builder = importlib.util.module_from_spec(spec); spec.loader.exec_module(builder)   # neuromap from PYTHONPATH
brunel, target_for = builder.brunel, builder.target_for
from neuromap.toolchain import compile_network
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
net = brunel(n, k)
t_build = time.perf_counter() - t
S = sum(p.n_synapses for p in net.projections)
tgt = target_for(n, k)
prof = cProfile.Profile() if profile else None
t = time.perf_counter()
if prof: prof.enable()
result = compile_network(net, tgt, placer="sequential")
img = result.image
t_compile = time.perf_counter() - t
phases = {}     # the compile result's own timings: each pass and its verifier
for r in result.passes:
    phases[r.name] = r.wall_s
    if r.kind == "pass":
        phases["verify " + r.name] = r.verify_s
t = time.perf_counter()
out = tempfile.mkdtemp(prefix="nm_scale.")
img.save(os.path.join(out, "img"))
t_save = time.perf_counter() - t
if prof:
    prof.disable()
    import pstats
    calls = pstats.Stats(prof).total_calls
else:
    calls = None
import shutil; shutil.rmtree(out, ignore_errors=True)
print(json.dumps({"neurons": n, "synapses": S, "image_synapses": img.n_synapses, "cores": img.n_cores,
                  "build_s": t_build, "compile_s": t_compile, "save_s": t_save,
                  "phases_s": phases, "rss_after_import_kb": rss0,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "python_calls": calls, "load": os.getloadavg()[0]}))
'''


def brunel(n: int, k: int = K_IN, seed: int = 1):
    """N = n LIF neurons (80 % E, 20 % I), fixed in-degree k (80 % from E, 20 % from I), delay 1.5 ms,
    and one private Poisson source per neuron (issue 16's Brunel-style network)."""
    import neuromap
    ne, ni = n * 4 // 5, n - n * 4 // 5
    ke, ki = k * 4 // 5, k - k * 4 // 5
    net = neuromap.Network(name=f"brunel_{n}", dt=0.1, seed=seed)
    lif = dict(tau_m=20.0, tau_syn=0.1, v_th=20.0, v_reset=10.0, refractory=20)
    net.add_population("E", ne, "lif", **lif)
    net.add_population("I", ni, "lif", **lif)
    net.add_population("ext_E", ne, "poisson", rate=2000.0)
    net.add_population("ext_I", ni, "poisson", rate=2000.0)
    for post in ("E", "I"):
        net.connect(f"ext_{post}", post, "one_to_one", weight=20.0, delay=15)
        net.connect("E", post, {"rule": "fixed_indegree", "k": ke}, weight=20.0, delay=15)
        net.connect("I", post, {"rule": "fixed_indegree", "k": ki}, weight=100.0, delay=15, target="inh")
    return net


def target_for(n: int, k: int = K_IN):
    """``loihi`` when the network fits its 4096 cores (about 40 of these neurons per core: their random
    presynaptic sets fill the 4096 input axons), else a copy with enough 128-core chips."""
    import dataclasses

    from neuromap.targets import load_target
    t = load_target("loihi")
    need = int(n * k / 4096 * 1.3) + 64          # cores, with margin (k distinct sources per neuron)
    if need <= t.n_cores:
        return t
    chips = -(-need // t.cores_per_chip)
    cx = 1
    while cx * cx < chips:
        cx *= 2
    return dataclasses.replace(t, name=f"loihi_{cx * (-(-chips // cx))}chips",
                               mesh=dataclasses.replace(t.mesh, chips_x=cx, chips_y=-(-chips // cx)))


def run_child(tree: Path, n: int, k: int = K_IN, profile: bool = False, timeout: float = 3600) -> dict:
    """One compile in a fresh process of ``tree`` (this file's builder is used for both trees)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(k), "1" if profile else "0", __file__],
                       env=env, cwd=str(tree), capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"compile of {n} neurons with {tree} failed: {r.stderr.strip()[-2000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    res["peak_rss_gb"] = res["peak_rss_kb"] / 1e6 * 1.024
    res["bytes_per_synapse"] = res["peak_rss_kb"] * 1024 / res["synapses"]
    res["bytes_per_synapse_above_import"] = (res["peak_rss_kb"] - res["rss_after_import_kb"]) * 1024 / res["synapses"]
    res["compile_s_per_M_synapses"] = (res["compile_s"] + res["save_s"]) / (res["synapses"] / 1e6)
    return res


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def measure(sizes: list[int], old: str | None, repeat: int, old_sizes: list[int], profile: bool,
            repeat_large: int = 1) -> dict:
    rows = []
    for n in sizes:
        sides = [("new", ROOT)] + ([("old", Path(old))] if old and n in old_sizes else [])
        reps = repeat if n <= 10_000 else repeat_large
        runs = {s: [] for s, _ in sides}
        for _ in range(reps):                 # alternate new / old
            for side, tree in sides:
                runs[side].append(run_child(tree, n, profile=profile and side == "new"))
        for side, rs in runs.items():
            best = min(rs, key=lambda r: r["compile_s"])
            row = dict(best, tree=side, runs=len(rs),
                       compile_s_median=_median([r["compile_s"] for r in rs]),
                       compile_plus_save_s_median=_median([r["compile_s"] + r["save_s"] for r in rs]),
                       peak_rss_gb_max=max(r["peak_rss_gb"] for r in rs),
                       loads=[round(r["load"], 2) for r in rs])
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("tree", "neurons", "synapses", "compile_s_median",
                                                   "peak_rss_gb_max", "loads")}), flush=True)
    return {"rows": rows, "issue_before": ISSUE_BEFORE, "load_at_end": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def markdown(res: dict) -> str:
    lines = ["# Compile at scale (`bench/compile_scale.py`)", "",
             DESCRIPTION + ". `--placer sequential`, one process per row; wall time = compile (all passes "
             "and verifiers) + save; RSS = `getrusage` peak of that process (includes ~0.2 GB of imports). "
             f"Measured {res['date']} on the shared 2-core machine; load average per run in the last column.", "",
             "| tree | synapses | cores | compile + save (s) | s per M synapses | peak RSS (GB) | bytes/synapse "
             "| slowest phases (s) | Python calls | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        ph = sorted(r["phases_s"].items(), key=lambda kv: -kv[1])[:4]
        lines.append(f"| {r['tree']} | {r['synapses'] / 1e6:.2f} M | {r['cores']} | "
                     f"{r['compile_plus_save_s_median']:.1f} (x{r['runs']}) | {r['compile_s_per_M_synapses']:.2f} | "
                     f"{r['peak_rss_gb_max']:.2f} | {r['bytes_per_synapse']:.0f} | "
                     + ", ".join(f"{k} {v:.1f}" for k, v in ph) +
                     f" | {r['python_calls'] if r['python_calls'] is not None else '-'} | "
                     f"{', '.join(map(str, r['loads']))} |")
    b = res["issue_before"]
    lines += ["", f"Issue 16's before (fresh main, load 2-4): {b['synapses'] / 1e6:.1f} M synapses, "
              f"{b['wall_s']:.0f} s, {b['peak_rss_gb']} GB peak ({b['split']}).", ""]
    return "\n".join(lines)


def run(quick: bool = False) -> dict:
    """Entry point of ``bench/run.py``: 1 M and 10 M synapses (quick: 1 M), new tree only."""
    res = measure([10_000] if quick else [10_000, 100_000], None, 1 if quick else 3, [], False)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "compile_scale.md").write_text(markdown(res))     # bench/run.py writes the json (this summary)
    out = {}
    for r in res["rows"]:
        m = f"{r['synapses'] / 1e6:.0f}M"
        out[f"compile_{m}_s"] = round(r["compile_plus_save_s_median"], 2)
        out[f"peak_rss_{m}_gb"] = round(r["peak_rss_gb_max"], 3)
        out[f"bytes_per_synapse_{m}"] = round(r["bytes_per_synapse"], 1)
        out[f"s_per_M_synapses_{m}"] = round(r["compile_s_per_M_synapses"], 3)
    return out


def _write(res: dict, name: str = NAME) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")
    (OUT / f"{name}.md").write_text(markdown(res))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="neurons per network (synapses = 101 x neurons)")
    ap.add_argument("--old", help="an older source tree to measure in the same run")
    ap.add_argument("--old-sizes", default="10000", help="sizes the old tree runs")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tree at sizes <= 10 000 neurons (medians)")
    ap.add_argument("--repeat-large", type=int, default=1, help="runs per tree above 10 000 neurons")
    ap.add_argument("--profile", action="store_true", help="count Python calls (cProfile) in the new tree")
    ap.add_argument("--out", default=NAME, help="results file name in bench/results (.json and .md)")
    a = ap.parse_args(argv)
    res = measure([int(x) for x in a.sizes.split(",")], a.old, a.repeat,
                  [int(x) for x in a.old_sizes.split(",")], a.profile, a.repeat_large)
    _write(res, a.out)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
