"""``python -m neuromap.warmup``: compile numba's kernels once into its on-disk cache (``cache=True``).

A fresh install has no cache, so the first compile/run/simulate of each kind pays numba's compile time
(tens of seconds in total). ``make install`` and ``make test`` run this once, in one process, so that
``make demo`` and the test workers (``pytest -n 2``) find every kernel compiled instead of compiling
the same kernels side by side. Each job below runs a few steps only; it prints one line per job.
"""
from __future__ import annotations

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def truenorth_small():
    """24 spike sources -> 30 ``if`` neurons, dense mixed-sign weights, and a Poisson-driven ``lif`` pair:
    the TrueNorth compile (crossbar legalization, fidelity estimate) and TrueNorth emulator kernels on a
    network small enough to cost only their JIT (bench/placer_budget.py's ``tn_30`` plus a leak)."""
    import numpy as np

    from neuromap.network import Network
    rng = np.random.default_rng(3)
    net = Network(name="warmup_truenorth", seed=3)
    net.add_population("inp", 24, {"model": "spike_source",
                                   "times": [sorted(rng.choice(50, 5, replace=False).tolist()) for _ in range(24)]})
    net.add_population("h", 30, "if", v_th=1.0)
    net.connect("inp", "h", {"rule": "matrix", "matrix": np.round(rng.uniform(-0.5, 0.5, (30, 24)), 3).tolist()},
                delay=1)
    net.add_population("x", 4, "poisson", rate=40.0)
    net.add_population("o", 2, "lif", tau_m=20.0, v_th=1.0)
    net.connect("x", "o", weight=0.6)
    return net


#: (label, network, target, compile options): together they reach the placer's kernels, the float
#: simulator's numba backend, the emulator's static and plastic (seed rules) loops and the TrueNorth
#: compile and emulator (a network: a path or ``module.py:function`` for :func:`neuromap.io.load_network`,
#: or a function returning one)
JOBS = (
    ("spatial E/I sheet, vogels_isp (cpsat placement)", "examples/spatial_balanced_ei.py:small", "loihi",
     {"placer": "cpsat", "time_limit": 0.2}),
    ("spatial E/I sheet, static", "examples/spatial_balanced_ei.py:small", "loihi", {"placer": "greedy", "freeze": True}),
    ("LIF Ramp, nn_stdp + homeostatic_stdp", "examples/ramp_lif.yaml", "loihi", {"placer": "sequential"}),
    ("TrueNorth, 24 -> 30 if + Poisson -> lif", truenorth_small, "truenorth", {}),
)


def warm(steps: int = 5, out=sys.stdout) -> float:
    """Run every job of :data:`JOBS` for ``steps`` steps (compile, emulator, float reference); returns seconds."""
    import dataclasses

    from backends.emulator import run
    from neuromap.toolchain import compile_network
    from neuromap.io import load_network
    from neuromap.simulator import simulate

    t_all = time.perf_counter()
    for k, (label, network, target, opts) in enumerate(JOBS, 1):
        t = time.perf_counter()
        opts = dict(opts)
        net = network() if callable(network) else load_network(os.path.join(ROOT, network))
        if opts.pop("freeze", False):
            net = dataclasses.replace(net, projections=[dataclasses.replace(p, plasticity=None)
                                                        for p in net.projections])
        img = compile_network(net, target=target, **opts).image
        run(img, steps)
        simulate(net, steps)
        print(f"  numba warm-up {k}/{len(JOBS)}: {label} ({time.perf_counter() - t:.1f} s)", file=out, flush=True)
    return time.perf_counter() - t_all


if __name__ == "__main__":
    sys.exit(0 if warm() >= 0 else 1)
