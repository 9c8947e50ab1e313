"""Run the registered benchmarks; write bench/results/<name>.json and bench/results/README.md.

``python -m bench.run [--quick] [NAME ...]``
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time

#: benchmark name -> module (see bench/__init__.py for the contract)
BENCHMARKS: dict[str, str] = {
    "emulator_vs_lava": "bench.emulator_vs_lava",
    "emulator_threads_load": "bench.emulator_threads_load",
    "ramp_reference": "bench.ramp_reference",
    "voltage_rules": "bench.voltage_rules",
    "lava_export": "bench.lava_export",
    "learning_accuracy": "bench.learning_accuracy",
    "clopath_accuracy": "bench.clopath_accuracy",
    "emulator_plastic": "bench.emulator_plastic",
    "placer_budget": "bench.placer_budget",
    "compile_scale": "bench.compile_scale",
    "emulator_scale": "bench.emulator_scale",
    "float_reference": "bench.float_reference",
    "microcircuit": "bench.microcircuit",
    "esn_controller": "bench.esn_controller",
    "poisson_inputs": "bench.poisson_inputs",
}
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _table(rows: dict[str, dict]) -> str:
    lines = ["# Benchmark results", "", f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}", ""]
    for name, res in rows.items():
        lines += [f"## {name}", "", res.pop("_description", ""), "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in res.items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or list(BENCHMARKS)
    os.makedirs(RESULTS, exist_ok=True)
    rows = {}
    for name in names:
        mod = importlib.import_module(BENCHMARKS[name])
        t = time.time()
        res = mod.run(quick=quick)
        res["_description"] = mod.DESCRIPTION
        res["date"] = time.strftime("%Y-%m-%d %H:%M")
        with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
            json.dump(res, f, indent=1)
        print(f"{name}: {res} ({time.time() - t:.1f} s)")
        rows[name] = res
    existing = {}
    for fn in sorted(os.listdir(RESULTS)):
        if fn.endswith(".json"):
            with open(os.path.join(RESULTS, fn)) as f:
                existing[fn[:-5]] = json.load(f)
    with open(os.path.join(RESULTS, "README.md"), "w") as f:
        f.write(_table(existing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
