"""``python -m neuromap.warmup``: compile numba's kernels once into its on-disk cache (``cache=True``).

A fresh install has no cache, so the first compile/run/simulate of each kind pays numba's compile time
(tens of seconds in total). ``make install`` and ``make test`` run this once, in one process, so that
``make demo`` and the test workers (``pytest -n 2``) find every kernel compiled instead of compiling
the same kernels side by side. Each job below runs a few steps only; it prints one line per job.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time

from backends.emulator import run
from emulator.sharded import run_rank
from neuromap.io import load_network
from neuromap.simulator import simulate
from neuromap.toolchain import compile_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: (label, network, target, compile options): together they reach the placer's kernels, the float
#: simulator's numba backend and the emulator's static and plastic (seed rules) loops; the static ones also run on
#: two threads, which compiles both parallel kernels (the spatial sheet has dendrite slots: the post split; the
#: static Ramp has none: the spike split), so a default-threads run never pays their compile time (~16 s in the
#: first default run of the 10 M-synapse bench image, bench/results/mpi_scaling_quiet.md). TrueNorth has no job:
#: after these, the first TrueNorth compile of 24 -> 30 neurons (bench/placer_budget.py ``tn_30``) on a
#: fresh cache took 3.1 s (1.7 s warm; 2026-12-07, load 1.7), its remaining JIT too small to pay for here
JOBS = (
    ("spatial E/I sheet, vogels_isp (cpsat placement)", "examples/spatial_balanced_ei.py:small", "loihi",
     {"placer": "cpsat", "time_limit": 0.2}),
    ("spatial E/I sheet, static", "examples/spatial_balanced_ei.py:small", "loihi",
     {"placer": "greedy", "freeze": True}),
    ("LIF Ramp, nn_stdp + homeostatic_stdp", "examples/ramp_lif.yaml", "loihi", {"placer": "sequential"}),
    ("LIF Ramp, static", "examples/ramp_lif.yaml", "loihi", {"placer": "sequential", "freeze": True}),
)


def warm(steps: int = 5, out=sys.stdout) -> float:
    """Run every job of :data:`JOBS` for ``steps`` steps (compile, emulator, float reference); returns seconds."""
    t_all = time.perf_counter()
    for k, (label, network, target, opts) in enumerate(JOBS, 1):
        t = time.perf_counter()
        opts = dict(opts)
        net = load_network(os.path.join(ROOT, network))
        frozen = opts.pop("freeze", False)
        if frozen:
            net = dataclasses.replace(net, projections=[dataclasses.replace(p, plasticity=None)
                                                        for p in net.projections])
        img = compile_network(net, target=target, **opts).image
        run(img, steps)
        if frozen:
            run(img, steps, threads=2)    # the parallel kernels (emulator/engine_numba.py)
        run_rank(img, steps)      # the sharded run's delivery kernels (emulator/sharded.py), one rank
        simulate(net, steps)
        print(f"  numba warm-up {k}/{len(JOBS)}: {label} ({time.perf_counter() - t:.1f} s)", file=out, flush=True)
    return time.perf_counter() - t_all


if __name__ == "__main__":
    sys.exit(0 if warm() >= 0 else 1)
