"""Compile wall time of two source trees, alternating: does a compiler change cost time?

    python bench/compile_speed_ab.py OLD_TREE [NEW_TREE] [--rounds 3]

Each round runs one subprocess per tree (OLD then NEW, then NEW then OLD in the next round), which
compiles every case once to warm up (imports, numba cache loads) and then times it (median of
``--repeat`` compiles). Cases: examples with the greedy placer and the emulator-run steps (``rates:
auto``, the fidelity rate sample), a deterministic CP-SAT placement, TrueNorth. Writes
bench/results/compile_speed_ab.json with the load average before and after; prints new/old ratios.
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
CASES = [("examples/balanced_ei.yaml", "loihi", {"placer": "greedy", "rates": "auto", "rate_check": "always"}),
         ("examples/balanced_ei.yaml", "loihi", {"placer": "cpsat", "deterministic": True, "time_limit": 2}),
         ("examples/ramp_lif.yaml", "loihi", {"placer": "sequential"}),
         ("examples/tn_feedforward.yaml", "truenorth", {"deterministic": True, "time_limit": 3})]

_CHILD = r'''
import json, sys, time
try:
    from neuromap.toolchain import compile_network
except ImportError:                      # a tree from before the compile result
    from neuromap.compiler import compile_network
from neuromap.io import load_network
cases, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
out = []
for path, target, kw in cases:
    net = load_network(path)
    compile_network(net, target, **kw)   # warm-up
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        compile_network(net, target, **kw)
        ts.append(time.perf_counter() - t)
    out.append(sorted(ts)[len(ts) // 2])
print(json.dumps(out))
'''


def run(tree: str, repeat: int) -> list[float]:
    cases = [(str(ROOT / p), t, kw) for p, t, kw in CASES]
    r = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cases), str(repeat)], cwd=tree, text=True,
                       capture_output=True, env=dict(os.environ, PYTHONPATH=tree), check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(ROOT))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    load0 = os.getloadavg()
    times = {"old": [], "new": []}
    for k in range(a.rounds):
        for side in (("old", "new") if k % 2 == 0 else ("new", "old")):
            times[side].append(run(getattr(a, side), a.repeat))
    rows = []
    for i, (path, target, kw) in enumerate(CASES):
        old = statistics.median(t[i] for t in times["old"])
        new = statistics.median(t[i] for t in times["new"])
        rows.append({"case": f"{path} {target} {kw}", "old_s": round(old, 4), "new_s": round(new, 4),
                     "new_over_old": round(new / old, 3)})
        print(json.dumps(rows[-1]))
    res = {"old": a.old, "new": a.new, "rounds": a.rounds, "repeat": a.repeat, "load_before": load0,
           "load_after": os.getloadavg(), "rows": rows}
    (ROOT / "bench" / "results" / "compile_speed_ab.json").write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
