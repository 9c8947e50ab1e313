"""Placer budget benchmark (issue 16 item 2, issue 21 item 3): default compiles under a wall-clock budget.

    PYTHONPATH=. .venv/bin/python bench/placer_budget.py [--old DIR] [--new DIR] [--cap S] [--repeats N]
        [--only CASE ...] [--out NAME]
    python -m bench.run placer_budget        (new code only, one run per case)

Each case is compiled in a fresh subprocess through :func:`neuromap.compiler.compile_network` (every pass
and verifier), with the default options of the code under test (placer cpsat, default time limit).
``--old DIR``: a checkout of the old code (``git worktree add /tmp/old-placer 8569f5d``); old and new
run alternately, case by case, in the same run; each old compile is killed after ``--cap`` seconds
(default 300) and reported as ``> cap``. Records wall time, the placement's own time (``solve_time_s``
plus the sequential baseline), hop-weighted traffic (uniform rates) next to the sequential placer's,
cores, peak RSS and the load average, to bench/results/placer_budget_compare.{json,md} (``--out NAME``);
``python -m bench.run placer_budget`` writes the new side only to placer_budget.json.

Cases:

- ``ei_7core``: balanced E/I (examples/balanced_ei.py scaled to NX = NE = 1600, NI = 400, p = 0.05,
  float ``lif``, no plasticity): 7 cores, 360 k synapses, loihi.
- ``tn_30``: 24 spike sources -> 30 ``if`` neurons, dense mixed-sign random weights, truenorth.
- ``ff_1m``: 10 k -> 10 k ``loihi_lif`` neurons, each pre neuron to 100 random posts: 1 M synapses,
  the standard loihi board (issue 16's 29 min 24 s case).
- ``ff_10m``: the same with fan-out 1000: 10 M synapses on examples/targets/loihi_64chips.toml.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
NAME = "placer_budget"
DESCRIPTION = ("Default compile (placer cpsat, default wall-clock budget) wall time, placement time and "
               "hop-weighted traffic on a 7-core E/I network, a 30-neuron TrueNorth network, 1 M and 10 M synapses")
CASES = ("ei_7core", "tn_30", "ff_1m", "ff_10m")


def build(case: str):
    """(network, target) of a benchmark case (module doc)."""
    from neuromap.network import Network
    if case == "ei_7core":
        sys.path.insert(0, str(ROOT / "examples"))
        import balanced_ei as b
        b.NE, b.NI, b.NX, b.K = 1600, 400, 1600, 0.05
        return b.build(plastic=False), "loihi"
    if case == "tn_30":
        rng = np.random.default_rng(3)
        n_in, n_out = 24, 30
        net = Network(name="tn_30", seed=3)
        net.add_population("inp", n_in, {"model": "spike_source",
                                         "times": [sorted(rng.choice(50, 5,
                                                                     replace=False).tolist()) for _ in range(n_in)]})
        net.add_population("h", n_out, "if", v_th=1.0)
        w = np.round(rng.uniform(-0.5, 0.5, (n_out, n_in)), 3)
        net.connect("inp", "h", {"rule": "matrix", "matrix": w.tolist()}, delay=1)
        return net, "truenorth"
    fan_out = {"ff_1m": 100, "ff_10m": 1000}[case]
    n = 10_000
    rng = np.random.default_rng(5)
    pre = np.repeat(np.arange(n), fan_out)
    post = np.concatenate([rng.choice(n, fan_out, replace=False) for _ in range(n)])
    w = rng.integers(-64, 128, pre.size) * 2
    net = Network(name=case, seed=1)
    net.add_population("pre", n, neuron="loihi_lif", bias_mant=rng.integers(200, 500, n).tolist(), du=0, dv=0, vth=100)
    net.add_population("post", n, neuron="loihi_lif", du=410, dv=205, vth=2000)
    net.connect("pre", "post", connect={"rule": "list", "pre": pre, "post": post}, weight=w, weight_exp=0,
                num_weight_bits=8, sign_mode="mixed")
    target = "loihi" if case == "ff_1m" else str(ROOT / "examples" / "targets" / "loihi_64chips.toml")
    return net, target


def placement_worker(case: str) -> dict:
    """Placement only (``place_graph`` on the compile's synapse graph, no verifier/lowering) with the
    code's default budget: the old code's compile default (10 deterministic units) or the new default
    wall-clock budget."""
    from neuromap.placement import SynapseGraph, place_graph
    from neuromap.targets import load_target
    net, target = build(case)
    g = SynapseGraph.from_network(net)
    tgt = load_target(target)
    t = time.perf_counter()
    try:
        from neuromap.placement.budget import Budget, default_time_limit
        kw = {"budget": Budget(default_time_limit(g.n_synapses))}
    except ImportError:  # the old code
        kw = {"time_limit": 10.0}
    r = place_graph(g, tgt, "cpsat", **kw).report
    wall = time.perf_counter() - t
    return {"placement_wall_s": round(wall, 2), "hop_weighted_traffic": r.hop_weighted_traffic,
            "sequential_hop_weighted_traffic": r.sequential_hop_weighted_traffic, "cores": r.n_cores,
            "inter_core_packets": r.inter_core_packets, "time_limit": kw.get("time_limit", getattr(kw.get("budget"),
                                                                                                  "limit", None)),
            "deterministic": "time_limit" in kw, "time_split_s": getattr(r, "time_split_s", {}),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def worker(case: str, opts: dict) -> dict:
    """Compile ``case`` with ``opts`` (compile options) in this process; the numbers as a dict."""
    if opts.get("placement_only"):
        return placement_worker(case)
    from neuromap.toolchain import compile_network
    net, target = build(case)
    t = time.perf_counter()
    img = compile_network(net, target=target, **opts).image
    wall = time.perf_counter() - t
    rep = img.options.get("placement") or {}
    tn = img.options.get("truenorth") or {}
    out = {"wall_s": round(wall, 2), "cores": img.n_cores, "synapses": img.n_synapses,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if rep:
        split = rep.get("time_split_s") or {}
        out.update(hop_weighted_traffic=rep["hop_weighted_traffic"],
                   sequential_hop_weighted_traffic=rep["sequential_hop_weighted_traffic"],
                   solve_time_s=round(rep["solve_time_s"], 2), placement_s=round(sum(split.values()), 2) or None,
                   time_limit=rep.get("time_limit"), deterministic=rep.get("deterministic", True),
                   time_split_s=split, gap=rep.get("gap"))
    if tn:
        out.update(tn_time_split_s=tn.get("time_split_s"),
                   tn_error_l1=tn["crossbar"]["totals"].get("error_l1"),
                   tn_rel_error=tn["crossbar"]["totals"].get("rel_error"))
    return out


def _spawn(code_dir: str, case: str, opts: dict, cap: float) -> dict:
    env = dict(os.environ, PYTHONPATH=code_dir)
    t = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, __file__, "--worker", case, "--opts", json.dumps(opts)], env=env,
                           cwd=code_dir, capture_output=True, text=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return {"wall_s": None, "killed_after_s": cap, "load": os.getloadavg()[0]}
    if p.returncode:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1], "wall_s": round(time.perf_counter() - t, 1)}
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["process_s"] = round(time.perf_counter() - t, 2)
    res["load"] = round(os.getloadavg()[0], 2)
    return res


def _median(rows: list[dict], key: str):
    v = [r[key] for r in rows if r.get(key) is not None]
    return None if not v else float(np.median(v))


def compare(cases, old: str | None, cap: float, repeats: int, new: str | None = None, opts=None) -> dict:
    """Old (capped) and new, alternating per case and repeat; per case the runs and medians."""
    out = {}
    for case in cases:
        runs = {"new": [], "old": []}
        for r in range(repeats):
            order = ("old", "new") if (r % 2 == 0 and old) else ("new", "old") if old else ("new",)
            for side in order:
                code = (new or str(ROOT)) if side == "new" else old
                res = _spawn(code, case, opts or {}, cap if side == "old" else 3600)
                runs[side].append(res)
                print(case, side, r, json.dumps(res), flush=True)
        out[case] = {side: {"runs": rs, "wall_s_median": _median(rs, "wall_s") or _median(rs, "placement_wall_s"),
                            "hop_weighted_traffic": _median(rs, "hop_weighted_traffic")}
                     for side, rs in runs.items() if rs}
    return out


def _markdown(res: dict, cap: float, old_label: str = "8569f5d (default cpsat, time limit 10 deterministic units, "
              "LP bound unbounded)") -> str:
    lines = ["# Placer budget benchmark (bench/placer_budget.py)", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC, 2 cores shared with other jobs; old = {old_label}, "
             f"killed after {cap:g} s; "
             "new = default wall-clock budget. Old and new alternate in one run; medians.", "",
             "| case | side | wall s (compile) | placement s | time limit | hop-weighted traffic | sequential | "
             "cores | peak RSS MB | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for case, sides in res.items():
        for side, s in sides.items():
            r = s["runs"][-1]
            wall = s["wall_s_median"]
            wall = f"> {cap:g} (killed)" if wall is None and any(x.get("killed_after_s") for x in s["runs"]) else wall
            tl = r.get("time_limit")
            tl = "" if tl is None else f"{tl:g} {'units' if r.get('deterministic', True) else 's'}"
            lines.append(f"| {case} | {side} | {wall} | {r.get('placement_s', '')} | {tl} | "
                         f"{s['hop_weighted_traffic'] if s['hop_weighted_traffic'] is not None else ''} | "
                         f"{r.get('sequential_hop_weighted_traffic', '')} | {r.get('cores', '')} | "
                         f"{r.get('peak_rss_mb', '')} | {r.get('load', '')} |")
    lines += ["", "Time split of the last new run per case (s):", ""]
    for case, sides in res.items():
        r = sides["new"]["runs"][-1]
        split = r.get("time_split_s") or r.get("tn_time_split_s") or {}
        lines.append(f"- {case}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(split.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines) + "\n"


def run(quick: bool = False) -> dict:
    """``bench.run`` entry: new code only, one compile per case (``quick``: the two small cases)."""
    cases = CASES[:2] if quick else CASES
    res = compare(cases, None, 0, 1)
    flat = {}
    for case, sides in res.items():
        r = sides["new"]["runs"][0]
        flat[f"{case}_wall_s"] = r.get("wall_s")
        flat[f"{case}_placement_s"] = r.get("placement_s")
        if r.get("hop_weighted_traffic") is not None:
            flat[f"{case}_hop_weighted_traffic"] = r["hop_weighted_traffic"]
    return flat


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--opts", default="{}")
    ap.add_argument("--old")
    ap.add_argument("--new", help="checkout of the new code (default: this one)")
    ap.add_argument("--cap", type=float, default=300.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--out", default=f"{NAME}_compare")
    ap.add_argument("--old-label", default="8569f5d (default cpsat, time limit 10 deterministic units, LP bound "
                    "unbounded)", help="what the old tree is, for the results table")
    ap.add_argument("--placement-only", action="store_true",
                    help="time place_graph on the compile's synapse graph instead of the whole compile")
    a = ap.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker, json.loads(a.opts))))
        return 0
    res = compare(a.only or CASES, a.old, a.cap, a.repeats, a.new,
                  {"placement_only": True} if a.placement_only else None)
    OUT.mkdir(exist_ok=True)
    (OUT / f"{a.out}.json").write_text(json.dumps({"cap_s": a.cap, "old": a.old, "cases": res,
                                                   "date": time.strftime("%Y-%m-%d %H:%M")}, indent=1))
    (OUT / f"{a.out}.md").write_text(_markdown(res, a.cap, a.old_label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
