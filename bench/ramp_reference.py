"""Seed-003 Ramp, 1000 s, on the reference simulator, timed as a whole process.

Each timed run is a fresh ``python examples/ramp_izhikevich.py 1000`` subprocess
(interpreter start, imports, numba cache load, network construction, simulation,
summary), after one untimed warm-up run that fills numba's on-disk cache. The
reference is ANNarchy 5.0.4: 1.26 s for the same 1000 s on this machine (goal:
within 2x). CPU time (user + sys) of each child is reported too, because the
wall time depends on what else runs on the machine (the load average is recorded). The rates are compared with
ANNarchy's published 55.75 / 35.25 Hz.
"""
from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import time

NAME = "ramp_reference"
DESCRIPTION = "seed-003 Ramp (Izhikevich, nn_stdp + homeostatic_stdp), 1000 s, whole process"
ANNARCHY_S = 1.26
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _one(seconds: float) -> tuple[float, float, str]:
    """(wall s, CPU s of the child process, its output)."""
    t, c = time.perf_counter(), _cpu()
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "ramp_izhikevich.py"), str(seconds)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return time.perf_counter() - t, _cpu() - c, out


def run(quick: bool = False) -> dict:
    seconds = 100 if quick else 1000
    _one(seconds)  # warm-up: numba compiles once and caches to disk
    runs, cpus, out = [], [], ""
    for _ in range(3 if quick else 5):
        dt, cpu, out = _one(seconds)
        runs.append(dt)
        cpus.append(cpu)
    r1, r2 = (float(x) for x in re.findall(r"mean r ([0-9.]+) Hz", out))
    med = statistics.median(runs)
    return {"simulated_s": seconds, "wall_median_s": round(med, 3), "wall_min_s": round(min(runs), 3),
            "runs_s": " ".join(f"{x:.2f}" for x in runs), "cpu_median_s": round(statistics.median(cpus), 3),
            "load_avg_1min": round(os.getloadavg()[0], 1), "annarchy_s": ANNARCHY_S,
            "ratio_vs_annarchy": round(med / ANNARCHY_S, 2) if not quick else "n/a (quick)",
            "rate_no_homeo_hz": r1, "rate_homeo_hz": r2, "annarchy_rates_hz": "55.75 / 35.25"}
