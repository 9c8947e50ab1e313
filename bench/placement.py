"""Placement benchmark: cores, hop-weighted traffic, max link load, energy and solve time
for sequential / greedy / cpsat on four networks (built directly as synapse arrays).

    .venv/bin/python bench/placement.py [--time-limit 20] [--only NAME]

Writes bench/results/placement.json and bench/results/placement.md. Rates: uniform,
1 spike per neuron per step scaled by 0.01 (10 Hz at dt = 1 ms), the same for every method.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from neuromap.placement import SynapseGraph, place_graph, verify_graph
from neuromap.targets import load_target

OUT = Path(__file__).resolve().parent / "results"


def brunel(n_e=10000, n_i=2500, eps=0.02, seed=0):
    """Brunel (2000) random E/I network, each neuron receives eps*N_E exc and eps*N_I inh inputs."""
    rng = np.random.default_rng(seed)
    n = n_e + n_i
    ke, ki = int(eps * n_e), int(eps * n_i)
    post = np.repeat(np.arange(n), ke + ki)
    pre = np.concatenate([np.concatenate([rng.choice(n_e, ke, replace=False),
                                          n_e + rng.choice(n_i, ki, replace=False)]) for _ in range(n)])
    return SynapseGraph.from_arrays(n, pre, post, population=np.r_[np.zeros(n_e), np.ones(n_i)],
                                    population_names=("E", "I"))


def sheet(side_e=144, side_i=72, k_e=80, k_i=20, sigma=0.03, seed=0):
    """2-D topographic E/I sheet on the unit square: inputs drawn from a Gaussian (sigma, unit
    lengths) around each neuron's position, from the E grid and from the I grid."""
    rng = np.random.default_rng(seed)
    def grid(s):
        c = (np.arange(s) + 0.5) / s
        x, y = np.meshgrid(c, c, indexing="ij")
        return np.stack([x.ravel(), y.ravel()], 1)
    pe, pi = grid(side_e), grid(side_i)
    pos = np.concatenate([pe, pi])
    n_e, n = len(pe), len(pe) + len(pi)
    pres, posts = [], []
    for src_grid, side, k, off in ((pe, side_e, k_e, 0), (pi, side_i, k_i, n_e)):
        post = np.repeat(np.arange(n), k)
        target = pos[post] + rng.normal(0, sigma, (len(post), 2))
        ij = np.clip(np.floor(target * side).astype(int), 0, side - 1)
        pre = off + ij[:, 0] * side + ij[:, 1]
        keep = pre != post
        pres.append(pre[keep]); posts.append(post[keep])
    return SynapseGraph.from_arrays(n, np.concatenate(pres), np.concatenate(posts),
                                    population=np.r_[np.zeros(n_e), np.ones(n - n_e)],
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
        pres.append(off[0] + px * 28 + py); posts.append(np.full(49, off[1] + h))
    for h in range(1000):
        centre = rng.uniform(3, 25, 2)
        d = np.abs(c1 - centre).sum(1) + rng.uniform(0, 1e-3, 1000)
        src = np.argsort(d)[:60]
        pres.append(off[1] + src); posts.append(np.full(60, off[2] + h))
    for o in range(10):
        pres.append(off[2] + rng.choice(1000, 200, replace=False)); posts.append(np.full(200, off[3] + o))
    pop = np.repeat(np.arange(4), sizes)
    return SynapseGraph.from_arrays(int(off[-1]), np.concatenate(pres), np.concatenate(posts),
                                    population=pop, population_names=("in", "h1", "h2", "out"))


def synfire(groups=50, width=100, seed=0):
    """Synfire chain: each of `groups` groups of `width` neurons projects all-to-all to the next."""
    pre, post = [], []
    for g in range(groups - 1):
        a = np.arange(width) + g * width
        pre.append(np.repeat(a, width)); post.append(np.tile(a + width, width))
    n = groups * width
    return SynapseGraph.from_arrays(n, np.concatenate(pre), np.concatenate(post))


NETWORKS = {"brunel_12.5k": brunel, "topographic_sheet": sheet, "layered_784_1000_1000_10": layered,
            "synfire_chain": synfire}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    target = load_target("loihi")
    results = {}
    for name, build in NETWORKS.items():
        if args.only and name != args.only:
            continue
        g = build()
        rates = np.full(g.n_neurons, 0.01)
        rows = {}
        for method in ("sequential", "greedy", "cpsat"):
            res = place_graph(g, target, method, rates=rates, time_limit=args.time_limit, seed=0)
            rep = res.report.to_dict()
            rep["capacity_violations"] = (len(verify_graph(g, res.assignment.core_of, target))
                                          if g.n_synapses <= 1_000_000 else None)
            rows[method] = rep
            print(name, method, rep["n_cores"], round(rep["hop_weighted_traffic"], 2),
                  rep["gap"], round(rep["solve_time_s"], 1), flush=True)
        results[name] = {"n_neurons": g.n_neurons, "n_synapses": g.n_synapses, "methods": rows}
    results["_meta"] = {"target": "loihi", "time_limit_deterministic": args.time_limit,
                        "rates_spikes_per_step": 0.01, "max_rss_mb": resource.getrusage(
                            resource.RUSAGE_SELF).ru_maxrss / 1024, "date": time.strftime("%Y-%m-%d")}
    OUT.mkdir(exist_ok=True)
    suffix = f"_{args.only}" if args.only else ""
    (OUT / f"placement{suffix}.json").write_text(json.dumps(results, indent=1, default=str))
    lines = ["| network | neurons | synapses | method | cores | hop-weighted traffic (pkt·hop/step) | vs sequential "
             "| max link load (pkt/step) | energy (nJ/step) | gap | solve time (s) |", "|" + "---|" * 11]
    for name, r in results.items():
        if name.startswith("_"):
            continue
        for m, rep in r["methods"].items():
            seq = rep["sequential_hop_weighted_traffic"]
            ratio = rep["hop_weighted_traffic"] / seq if seq else float("nan")
            gap = "—" if rep["gap"] is None else f"{100 * rep['gap']:.0f}%"
            lines.append(f"| {name} | {r['n_neurons']} | {r['n_synapses']} | {m} | {rep['n_cores']} | "
                         f"{rep['hop_weighted_traffic']:.1f} | {ratio:.2f} | {rep['max_link_load']:.2f} | "
                         f"{rep['energy_pj_per_step'] / 1e3:.1f} | {gap} | {rep['solve_time_s']:.1f} |")
    (OUT / f"placement{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
