"""Placement benchmark: cores, hop-weighted traffic, max link load, energy and solve time
for sequential / greedy / cpsat on four networks (built directly as synapse arrays).

    .venv/bin/python bench/placement.py [--time-limit 10] [--only ROW] [--keep ROW] [--no-scale]

Writes bench/results/placement.{json,md} (``--only``: placement_only.*) and the scale run to
bench/results/placement_scale.{json,md}.
Rates: 0.01 spikes per neuron per step (10 Hz at dt = 1 ms), the same for every method. Wall times
include the sequential baseline each compile computes. The last step builds a 100k-neuron /
10M-synapse sheet in a subprocess and records cpsat's wall time and peak memory.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from neuromap.placement import SynapseGraph, place_graph, verify_graph
from neuromap.targets import load_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from topographic_sheet import FULL, LARGE, sheet_edges  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def brunel(n_e=10000, n_i=2500, eps=0.1, ext=True, seed=0):
    """Brunel (2000) random E/I network as in examples/brunel.yaml: each neuron receives eps*N_E exc
    and eps*N_I inh inputs (fixed in-degree) plus, with ``ext``, one private Poisson source
    (populations ext_E, ext_I, one_to_one)."""
    rng = np.random.default_rng(seed)
    n = n_e + n_i
    ke, ki = int(eps * n_e), int(eps * n_i)
    post = np.repeat(np.arange(n), ke + ki)
    # distinct sources per neuron: argpartition of random keys picks ke of n_e without replacement
    rows = []
    for lo in range(0, n, 500):
        m = min(500, n - lo)
        rows.append(np.concatenate([np.argpartition(rng.random((m, n_e)), ke, axis=1)[:, :ke],
                                    n_e + np.argpartition(rng.random((m, n_i)), ki, axis=1)[:, :ki]], 1))
    pre = np.concatenate(rows).ravel()
    pop = np.r_[np.zeros(n_e), np.ones(n_i)]
    names = ("E", "I")
    if ext:
        pre, post = np.r_[pre, n + np.arange(n)], np.r_[post, np.arange(n)]
        pop, names = np.r_[pop, np.full(n_e, 2), np.full(n_i, 3)], names + ("ext_E", "ext_I")
        n *= 2
    return SynapseGraph.from_arrays(n, pre, post, population=pop, population_names=names)


def sheet(**kw):
    """2-D topographic E/I sheet (examples/topographic_sheet.py, default 144^2 E + 72^2 I)."""
    n_e, n_i, pre, post, _ = sheet_edges(**{**FULL, **kw})
    return SynapseGraph.from_arrays(n_e + n_i, pre, post, population=np.r_[np.zeros(n_e), np.ones(n_i)],
                                    population_names=("E", "I"))


def layered(seed=0):
    """784-1000-1000-10 feed-forward: 7x7 receptive fields on the 28x28 input at random centres;
    layer 2 units take 60 inputs from layer-1 units whose centres lie near a random point;
    each output takes 200 random layer-2 units."""
    rng = np.random.default_rng(seed)
    sizes = [784, 1000, 1000, 10]
    off = np.cumsum([0] + sizes)
    pres, posts = [], []
    c1 = rng.integers(3, 25, (1000, 2))
    dx, dy = np.meshgrid(np.arange(-3, 4), np.arange(-3, 4))
    for h in range(1000):
        px, py = c1[h, 0] + dx.ravel(), c1[h, 1] + dy.ravel()
        pres.append(off[0] + px * 28 + py)
        posts.append(np.full(49, off[1] + h))
    for h in range(1000):
        centre = rng.uniform(3, 25, 2)
        d = np.abs(c1 - centre).sum(1) + rng.uniform(0, 1e-3, 1000)
        src = np.argsort(d)[:60]
        pres.append(off[1] + src)
        posts.append(np.full(60, off[2] + h))
    for o in range(10):
        pres.append(off[2] + rng.choice(1000, 200, replace=False))
        posts.append(np.full(200, off[3] + o))
    pop = np.repeat(np.arange(4), sizes)
    return SynapseGraph.from_arrays(int(off[-1]), np.concatenate(pres), np.concatenate(posts),
                                    population=pop, population_names=("in", "h1", "h2", "out"))


def synfire(groups=50, width=100, seed=0):
    """Synfire chain: each of `groups` groups of `width` neurons projects all-to-all to the next."""
    pre, post = [], []
    for g in range(groups - 1):
        a = np.arange(width) + g * width
        pre.append(np.repeat(a, width))
        post.append(np.tile(a + width, width))
    n = groups * width
    return SynapseGraph.from_arrays(n, np.concatenate(pre), np.concatenate(post))


NETWORKS = {"brunel_12.5k": brunel, "topographic_sheet": sheet, "layered_784_1000_1000_10": layered,
            "synfire_chain": synfire}


def board(chips_y=4, max_neurons=None):
    """The loihi target, optionally with more chip rows (a bigger board) or smaller cores."""
    t = load_target("loihi")
    t = dataclasses.replace(t, mesh=dataclasses.replace(t.mesh, chips_y=chips_y))
    if max_neurons:
        t = dataclasses.replace(t, core=dataclasses.replace(t.core, max_neurons=max_neurons))
    return t


#: (row name, network, target, target description)
CASES = [
    ("brunel_12.5k", "brunel_12.5k", lambda: board(chips_y=8), "loihi, 64-chip board (8x8 chips)"),
    ("topographic_sheet", "topographic_sheet", board, "loihi"),
    ("layered_784_1000_1000_10", "layered_784_1000_1000_10", board, "loihi"),
    ("layered_784_1000_1000_10 (128/core)", "layered_784_1000_1000_10", lambda: board(max_neurons=128),
     "loihi, cores cut to 128 compartments"),
    ("synfire_chain", "synfire_chain", board, "loihi"),
]


def run_case(name, g, target, time_limit, log):
    rates = np.full(g.n_neurons, 0.01)
    rows = {}
    for method in ("sequential", "greedy", "cpsat"):
        t0 = time.perf_counter()
        res = place_graph(g, target, method, rates=rates, time_limit=time_limit, seed=0)
        wall = time.perf_counter() - t0
        rep = res.report.to_dict()
        rep["wall_s"] = wall
        rep["capacity_violations"] = (len(verify_graph(g, res.assignment.core_of, target))
                                      if g.n_synapses <= 1_000_000 else None)
        rows[method] = rep
        log(f"  {name} {method}: {rep['n_cores']} cores, {rep['hop_weighted_traffic']:.1f} pkt-hops/step, "
            f"max link {rep['max_link_load']:.2f} (bound {rep['max_link_load_bound']}), gap {rep['gap']}, {wall:.1f} s")
    return rows


def scale_child(time_limit):
    """100k neurons / 10M synapses (examples/topographic_sheet.py LARGE: 283^2 E + 141^2 I, 125 drawn inputs
    per neuron, 12.5M drawn synapses): build + place_graph cpsat, wall time and peak memory."""
    t0 = time.perf_counter()
    g = sheet(**{k: v for k, v in LARGE.items() if k != "n_drive"})
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = place_graph(g, board(), "cpsat", rates=np.full(g.n_neurons, 0.01), time_limit=time_limit, seed=0)
    rep = res.report.to_dict()
    rep.pop("stats")
    print(json.dumps({"n_neurons": g.n_neurons, "n_synapses": g.n_synapses, "build_s": build,
                      "place_s": time.perf_counter() - t1, "max_rss_mb": peak_rss_mb(), "report": rep}))


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: VmHWM (reset by exec, unlike ru_maxrss, which a
    subprocess inherits from its parent on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(results):
    lines = ["| network | neurons | synapses | method | cores | hop-weighted traffic (pkt·hop/step) | vs sequential "
             "| max link load (pkt/step) | its bound (every placement) | its bound (at this traffic) "
             "| energy (nJ/step) | bound | gap | wall time (s) |",
             "|" + "---|" * 14]
    for name, r in results.items():
        if name.startswith("_"):
            continue
        for m, rep in r["methods"].items():
            seq = rep["sequential_hop_weighted_traffic"]
            ratio = f"{rep['hop_weighted_traffic'] / seq:.3f}" if seq else "– (0/0)"
            gap = "—" if rep["gap"] is None else f"{100 * rep['gap']:.1f}%"
            bound = "—" if rep["bound"] is None else f"{rep['bound']:.1f}"
            lbound = "—" if rep.get("max_link_load_bound") is None else f"{rep['max_link_load_bound']:.2f}"
            at = rep.get("max_link_load_bound_at_traffic")
            at = "—" if at is None else f"{at:.2f}"
            lines.append(f"| {name} | {r['n_neurons']} | {r['n_synapses']} | {m} | {rep['n_cores']} | "
                         f"{rep['hop_weighted_traffic']:.1f} | {ratio} | {rep['max_link_load']:.2f} | {lbound} | "
                         f"{at} | "
                         f"{rep['energy_pj_per_step'] / 1e3:.1f} | {bound} | {gap} | {rep['wall_s']:.1f} |")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=10.0, help="CP-SAT deterministic units per compile")
    ap.add_argument("--only", default=None, help="run one row (name as in the table)")
    ap.add_argument("--no-scale", action="store_true", help="skip the 100k/10M run")
    ap.add_argument("--keep", action="append", default=[], metavar="ROW",
                    help="reuse ROW from the existing placement.json instead of rerunning it (marked 'kept_from')")
    ap.add_argument("--scale-only", action="store_true", help="only the 100k/10M run")
    ap.add_argument("--scale-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--table-only", action="store_true", help="rewrite placement.md from placement.json")
    args = ap.parse_args()
    if args.scale_child:
        return scale_child(args.time_limit)
    if args.table_only:
        lines = table(json.loads((OUT / "placement.json").read_text()))
        (OUT / "placement.md").write_text("\n".join(lines) + "\n")
        return print("\n".join(lines))
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.0f} s] {msg}", flush=True)

    OUT.mkdir(exist_ok=True)
    if not args.scale_only:
        results, graphs = {}, {}
        old = json.loads((OUT / "placement.json").read_text()) if args.keep else {}
        for name, net, make_target, tdesc in CASES:
            if args.only and name != args.only:
                continue
            if name in args.keep:
                results[name] = {**old[name], "kept_from": old[name].get("kept_from", old["_meta"]["date"])}
                log(f"{name}: kept from the earlier run ({results[name]['kept_from']})")
                continue
            if net not in graphs:
                log(f"building {net}")
                graphs[net] = NETWORKS[net]()
            g = graphs[net]
            log(f"{name}: {g.n_neurons} neurons, {g.n_synapses} synapses, target {tdesc}")
            results[name] = {"n_neurons": g.n_neurons, "n_synapses": g.n_synapses, "target": tdesc,
                             "methods": run_case(name, g, make_target(), args.time_limit, log)}
        graphs.clear()
        results["_meta"] = {"time_limit_deterministic": args.time_limit, "rates_spikes_per_step": 0.01,
                            "peak_rss_mb": peak_rss_mb(), "total_s": time.perf_counter() - t_start,
                            "date": time.strftime("%Y-%m-%d"), "load_average_1min_at_end": os.getloadavg()[0]}
        suffix = "_only" if args.only else ""
        (OUT / f"placement{suffix}.json").write_text(json.dumps(results, indent=1, default=str))
        lines = table(results)
        (OUT / f"placement{suffix}.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    if not args.no_scale and not args.only:
        log("scale: 100k neurons / 10M synapses sheet, cpsat (subprocess)")
        out = subprocess.run([sys.executable, __file__, "--scale-child", "--time-limit", str(args.time_limit)],
                             capture_output=True, text=True, check=True)
        sc = json.loads(out.stdout.strip().splitlines()[-1])
        sc.update(date=time.strftime("%Y-%m-%d"), load_average_1min_at_end=os.getloadavg()[0])
        (OUT / "placement_scale.json").write_text(json.dumps(sc, indent=1, default=str))
        rep = sc["report"]
        line = (f"Scale: {sc['n_neurons']} neurons / {sc['n_synapses']} synapses (topographic sheet, loihi), cpsat "
                f"with --time-limit {args.time_limit:g}: build {sc['build_s']:.0f} s, partition + placement "
                f"(incl. the sequential baseline) {sc['place_s']:.0f} s wall, peak memory {sc['max_rss_mb']:.0f} MB; "
                f"{rep['n_cores']} cores (sequential {rep['sequential_n_cores']}), hop-weighted traffic "
                f"{rep['hop_weighted_traffic']:.0f} vs sequential {rep['sequential_hop_weighted_traffic']:.0f} "
                f"({rep['hop_weighted_traffic'] / max(rep['sequential_hop_weighted_traffic'], 1e-12):.3f}x), "
                f"gap {100 * rep['gap']:.0f}%.")
        (OUT / "placement_scale.md").write_text(line + "\n")
        log(line)


if __name__ == "__main__":
    main()
