"""Event- vs time-driven cost of the Clopath rule on a Brunel network with plastic E->E synapses (seed 001 Fig. 5).

Brunel (2000) model A (examples/brunel.py, j = 0.5 mV, g = 5, eta = 2) with NE = 4 NI
neurons and in-degree 0.1 NE; its E->E projection is static, ``stdp`` or ``clopath``
(time-driven, event-driven). All on the numpy backend (the voltage rules have no
compiled version). Reported: CPU seconds of the simulation (build excluded), the
overhead over static synapses, E rate (amplitudes are tiny, so activity stays in the same
AI state in every variant) and, for clopath, max |w_event - w_time|.
Seed 001 reports the Clopath overhead over stdp as constant in weak scaling; here
one process, two sizes.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

NAME = "voltage_rules"
DESCRIPTION = __doc__.splitlines()[0]
CLOPATH = dict(rule="clopath", A_LTD=1e-8, A_LTP=1e-9, theta_minus=0.0, theta_plus=15.0, tau_minus=10.0,
               tau_plus=7.0, tau_x=15.0, u_init=0.0, w_min=0.0, w_max=1e9, history=1000)
STDP = dict(rule="stdp", A_plus=1e-6, A_minus=1.2e-6, w_min=0.0, w_max=1e9)


def _run(ne: int, steps: int, plasticity):
    from brunel import build

    import neuromap
    net = build(ne, ne // 4, 0.1, 0.5, 5.0, 2.0, 0.1)
    ee = next(p for p in net.projections if p.pre == "E" and p.post == "E")
    ee.plasticity = plasticity
    c0, t0 = time.process_time(), time.perf_counter()
    res = neuromap.simulate(net, steps, backend="numpy")
    return time.process_time() - c0, time.perf_counter() - t0, res, ee.name


def run(quick: bool = False) -> dict:
    out: dict = {}
    steps = 1000 if quick else 3000
    _run(200, 50, None)                      # warm-up (imports, caches) outside the timings
    for ne in ((800,) if quick else (800, 1600)):
        cpu = {}
        w = {}
        for tag, pl in (("static", None), ("stdp", STDP), ("clopath_time", dict(CLOPATH, update="time")),
                        ("clopath_event", dict(CLOPATH, update="event"))):
            c, wall, res, name = _run(ne, steps, pl)
            cpu[tag] = c
            w[tag] = res.weights[name]
            out[f"ne{ne}_{tag}_cpu_s"] = round(c, 3)
            out[f"ne{ne}_{tag}_rate_hz"] = round(float(res.rates["E"].mean()), 2)
        for tag in ("stdp", "clopath_time", "clopath_event"):
            out[f"ne{ne}_{tag}_overhead_s"] = round(cpu[tag] - cpu["static"], 3)
        out[f"ne{ne}_ee_synapses"] = int(w["static"].size)
        out[f"ne{ne}_clopath_event_vs_time_max_abs_dw"] = float(np.abs(w["clopath_event"] - w["clopath_time"]).max())
    out["steps"] = steps
    return out


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
