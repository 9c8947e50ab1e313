"""The per-step cost of generating Poisson inputs, per stream kind (neuromap/poisson_stream.py, issue 17): the
``sequential`` stream of older images (one PCG64 over all inputs) against the ``per_input_v2`` streams that
compile writes (a counter-based generator per input), in one process, alternating kind by kind (ABBA...), so both
see the same load.

Input sets: the Poisson populations of the benches that are Poisson-driven: the microcircuit at scale 0.1
(examples/microcircuit.py, 7 717 inputs of 0.06-0.23 events per step: geometric gaps), Brunel A at the
``bench.float_reference`` medium size (5 000 inputs of 2 events per step: a Poisson count every step) and a sparse
set (100 000 inputs of 0.002 events per step: the heap kernel). Per repeat: a stream is created, a 10-step chunk
drawn (numba's cache into memory), then ``steps`` steps in 500-step chunks are timed (wall, one thread). Reported:
the median us per step of each kind, every run, the 1-min load average before each case, and whether both
kinds' events match their oracle rates (mean events per step within 1 % of sum(p)).

``python -m bench.poisson_inputs [--quick] [--steps N] [--repeats N]``; prints JSON (``python -m bench.run
poisson_inputs`` writes bench/results/poisson_inputs.json).
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy as np

NAME = "poisson_inputs"
DESCRIPTION = ("Poisson input generation per step, sequential (PCG64, older images) vs per_input_v2 (compile's "
               "default) streams, same process alternating: microcircuit 0.1, Brunel medium, 100 k sparse inputs.")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def input_sets() -> dict[str, np.ndarray]:
    """The expected events per step of every Poisson input of each bench network (as the image numbers them)."""
    sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]
    import microcircuit

    from neuromap.simulator.layout import build
    return {"microcircuit_0.1": build(microcircuit.build(scale=0.1)).poisson_p,
            "brunel_medium": np.full(5000, 2.0),
            "sparse_100k": np.full(100000, 0.002)}


def time_kind(p: np.ndarray, kind: str, steps: int, seed: int = 3) -> tuple[float, float]:
    """(us per step, events per step) of ``steps`` steps drawn in 500-step chunks after a 10-step warm chunk."""
    from neuromap.poisson_stream import PoissonStream
    s = PoissonStream(p, seed, kind=kind)
    s.chunk(0, 10)
    n_ev = 0
    t = time.perf_counter()
    for t0 in range(10, 10 + steps, 500):
        n_ev += s.chunk(t0, min(500, 10 + steps - t0))[1].size
    return (time.perf_counter() - t) / steps * 1e6, n_ev / steps


def run(quick: bool = False, steps: int | None = None, repeats: int | None = None) -> dict:
    from neuromap.poisson_stream import KINDS
    steps = steps or (500 if quick else 4000)
    repeats = repeats or (3 if quick else 7)
    out: dict = {"steps": steps, "repeats": repeats, "cases": {}}
    for name, p in input_sets().items():
        load = os.getloadavg()[0]
        runs: dict[str, list] = {k: [] for k in KINDS}
        rate: dict[str, list] = {k: [] for k in KINDS}
        for r in range(repeats):
            for kind in (KINDS if r % 2 == 0 else KINDS[::-1]):
                us, ev = time_kind(p, kind, steps)
                runs[kind].append(round(us, 2))
                rate[kind].append(ev)
        med = {k: statistics.median(v) for k, v in runs.items()}
        out["cases"][name] = {"inputs": int(p.size), "events_per_step": round(float(p.sum()), 1),
                              **{f"{k}_us_per_step": round(v, 2) for k, v in med.items()},
                              "per_input_over_sequential": round(med["per_input_v2"] / med["sequential"], 3),
                              "rates_match": all(abs(np.mean(v) / p.sum() - 1) < 0.01 for v in rate.values()),
                              "runs": runs, "load_before": round(load, 2)}
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


if __name__ == "__main__":
    a = sys.argv
    print(json.dumps(run(quick="--quick" in a, steps=int(a[a.index("--steps") + 1]) if "--steps" in a else None,
                         repeats=int(a[a.index("--repeats") + 1]) if "--repeats" in a else None), indent=1))
