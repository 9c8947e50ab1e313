"""The float64 reference simulator vs NEST 3.10 on Brunel's network A (issue 16, item 5).

Network (both sides): NE = 8000 excitatory and NI = 2000 inhibitory LIF neurons, fixed in-degree
CE = 800 / CI = 200 (10.0 M recurrent synapses), J = 0.1 mV, g = 5, eta = 2 (20 kHz of Poisson input per
neuron, 2 events per 0.1 ms step), delay 1.5 ms, tau_m 20 ms, theta 20 mV, V_r 10 mV, tau_rp 2 ms,
dt 0.1 ms, 1 s of network time. neuromap: ``examples/brunel.py`` (``lif`` with tau_syn 0.1 ms and the
weight whose PSP integral is J tau_m; one Poisson source per neuron); NEST: its own ``brunel_delta_nest``
example's network (``iaf_psc_delta``, one ``poisson_generator`` to every neuron), one thread
(neuromap's reference runs on one core too).

Each measurement runs in its own subprocess (its peak RSS is its own), alternating neuromap and NEST,
``REPEATS`` times; reported: the median of each side, every run, the 1-min load average before each run.
``build_s`` = network construction (connectivity), ``sim_s`` = ``simulate``/``nest.Simulate`` (neuromap's
includes flattening the network), ``bytes_per_synapse`` = peak RSS / recurrent synapses, and
``net_bytes_per_synapse`` = (peak RSS - RSS after imports) / synapses. neuromap warms numba's cache with a
10-step run of a small network before the clock starts (NEST is compiled ahead of time).

NEST is a benchmark-only dependency (``pip install -r bench/requirements.txt``); without it the NEST side
is reported as missing. ``python -m bench.float_reference [--quick | --medium]`` or ``python -m bench.run
float_reference``; ``--medium`` (NE = 4000, NI = 1000, 2.5 M synapses, 300 ms) runs without the heavy lock.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

NAME = "float_reference"
DESCRIPTION = ("Float reference (numba backend) vs NEST 3.10 (1 thread) on Brunel A, 10 k neurons, 10 M synapses, "
               "1 s at dt 0.1 ms; alternating subprocesses, medians, peak RSS per synapse.")

REPEATS = 3
FULL = dict(ne=8000, ni=2000, eps=0.1, j=0.1, g=5.0, eta=2.0, dt=0.1, ms=1000.0)
QUICK = dict(ne=2000, ni=500, eps=0.1, j=0.1, g=5.0, eta=2.0, dt=0.1, ms=200.0)
#: 2.5 M synapses, 300 ms: light enough to run without the heavy lock on a shared machine
MEDIUM = dict(ne=4000, ni=1000, eps=0.1, j=0.1, g=5.0, eta=2.0, dt=0.1, ms=300.0)
SKIP_MS = 100.0          # rates are measured after the first 100 ms


def _rss_mb() -> float:
    """Current resident set size (MB) from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _peak_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def side_neuromap(cfg: dict) -> dict:
    import time
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    sys.path[:0] = [root, os.path.join(root, "examples")]
    import brunel
    import numpy as np

    import neuromap
    warm = brunel.build(ne=40, ni=10, eps=0.1, j=0.1, g=5.0, eta=2.0, dt=0.1)
    neuromap.simulate(warm, 10)                                     # numba cache -> memory, not timed
    base = _rss_mb()
    t0 = time.perf_counter()
    net = brunel.build(**{k: cfg[k] for k in ("ne", "ni", "eps", "j", "g", "eta", "dt")})
    t1 = time.perf_counter()
    steps = int(round(cfg["ms"] / cfg["dt"]))
    res = neuromap.simulate(net, steps)
    t2 = time.perf_counter()
    n_syn = sum(p.n_synapses for p in net.projections if not p.pre.startswith("ext_"))
    skip = int(round(SKIP_MS / cfg["dt"]))
    secs = (steps - skip) * cfg["dt"] / 1000.0
    rate = {p: float(np.count_nonzero(res.spikes[p][0] >= skip)) / (net.populations[p].size * secs)
            for p in ("E", "I")}
    return dict(build_s=t1 - t0, sim_s=t2 - t1, synapses=n_syn, peak_mb=_peak_mb(), base_mb=base,
                rate_E=rate["E"], rate_I=rate["I"], backend=res.backend)


def side_nest(cfg: dict) -> dict:
    import time

    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": cfg["dt"], "local_num_threads": 1, "rng_seed": 3, "print_time": False})
    base = _rss_mb()
    ce, ci = int(round(cfg["eps"] * cfg["ne"])), int(round(cfg["eps"] * cfg["ni"]))
    tau_m, theta, j, g, eta, delay = 20.0, 20.0, cfg["j"], cfg["g"], cfg["eta"], 1.5
    nu_th = theta / (j * ce * tau_m)
    p_rate = 1000.0 * eta * nu_th * ce
    t0 = time.perf_counter()
    params = {"C_m": 1.0, "tau_m": tau_m, "t_ref": 2.0, "E_L": 0.0, "V_reset": 10.0, "V_m": 0.0, "V_th": theta}
    ex = nest.Create("iaf_psc_delta", cfg["ne"], params=params)
    inh = nest.Create("iaf_psc_delta", cfg["ni"], params=params)
    noise = nest.Create("poisson_generator", params={"rate": p_rate})
    rec_e, rec_i = nest.Create("spike_recorder"), nest.Create("spike_recorder")
    nest.CopyModel("static_synapse", "excitatory", {"weight": j, "delay": delay})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": -g * j, "delay": delay})
    nest.Connect(noise, ex, syn_spec="excitatory")
    nest.Connect(noise, inh, syn_spec="excitatory")
    nest.Connect(ex, rec_e, syn_spec="excitatory")
    nest.Connect(inh, rec_i, syn_spec="excitatory")
    nest.Connect(ex, ex + inh, {"rule": "fixed_indegree", "indegree": ce}, "excitatory")
    nest.Connect(inh, ex + inh, {"rule": "fixed_indegree", "indegree": ci}, "inhibitory")
    nest.Prepare()
    nest.Cleanup()
    t1 = time.perf_counter()
    nest.Simulate(cfg["ms"])
    t2 = time.perf_counter()
    import numpy as np
    secs = (cfg["ms"] - SKIP_MS) / 1000.0
    rate = {}
    for name, rec, n in (("E", rec_e, cfg["ne"]), ("I", rec_i, cfg["ni"])):
        times = np.asarray(rec.get("events")["times"])
        rate[name] = float(np.count_nonzero(times > SKIP_MS)) / (n * secs)
    n_syn = (cfg["ne"] + cfg["ni"]) * (ce + ci)
    return dict(build_s=t1 - t0, sim_s=t2 - t1, synapses=n_syn, peak_mb=_peak_mb(), base_mb=base,
                rate_E=rate["E"], rate_I=rate["I"], version=nest.__version__)


class heavy_lock:
    """Holds ``flock $NEUROMAP_HEAVY_LOCK`` (when that variable names a lock file) for one round of
    measurements: on a shared machine one heavy job runs at a time, and the sides compared in a round
    run back to back under the same load."""

    def __enter__(self):
        import fcntl
        path = os.environ.get("NEUROMAP_HEAVY_LOCK")
        self.f = open(path, "a") if path else None
        if self.f:
            fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.f:
            self.f.close()                      # closing releases the lock


def _subprocess(side: str, cfg: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
               OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "bench.float_reference", "--side", side, json.dumps(cfg)]
    out = subprocess.run(cmd,
                         capture_output=True, text=True, env=env, timeout=3600,
                         cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def nest_available() -> bool:
    try:
        import importlib.util
        return importlib.util.find_spec("nest") is not None
    except (ImportError, ValueError):
        return False


def run(quick: bool = False, repeats: int = REPEATS, cfg: dict | None = None) -> dict:
    import numpy as np
    cfg = cfg or (QUICK if quick else FULL)
    sides = ["neuromap"] + (["nest"] if nest_available() else [])
    runs: dict[str, list] = {s: [] for s in sides}
    for _ in range(repeats):
        with heavy_lock():
            for s in sides:
                load = os.getloadavg()[0]
                r = _subprocess(s, cfg)
                r["load_before"] = round(load, 2)
                runs[s].append(r)
                print(s, json.dumps(r), file=sys.stderr, flush=True)     # progress: each measurement
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    sys.path[:0] = [root, os.path.join(root, "examples")]
    import brunel
    theory = brunel.mean_field_rate(**{k: cfg[k] for k in ("ne", "ni", "eps", "j", "g", "eta", "dt")})
    out = {"network": f"Brunel A, NE={cfg['ne']} NI={cfg['ni']} eps={cfg['eps']} J={cfg['j']} g={cfg['g']} "
                      f"eta={cfg['eta']} dt={cfg['dt']} ms={cfg['ms']}",
           "mean_field_rate_hz": round(theory, 2)}
    for s in sides:
        ok = [r for r in runs[s] if "error" not in r]
        if not ok:
            out[f"{s}_error"] = runs[s][0]["error"]
            continue
        med = lambda k, ok=ok: statistics.median(r[k] for r in ok)  # noqa: E731
        syn = ok[0]["synapses"]
        out.update({f"{s}_build_s": round(med("build_s"), 2), f"{s}_sim_s": round(med("sim_s"), 2),
                    f"{s}_total_s": round(statistics.median(r["build_s"] + r["sim_s"] for r in ok), 2),
                    f"{s}_peak_mb": round(med("peak_mb"), 1),
                    f"{s}_bytes_per_synapse": round(med("peak_mb") * 2**20 / syn, 1),
                    f"{s}_net_bytes_per_synapse": round(statistics.median(
                        (r["peak_mb"] - r["base_mb"]) for r in ok) * 2**20 / syn, 1),
                    f"{s}_rate_E_hz": round(med("rate_E"), 2), f"{s}_rate_I_hz": round(med("rate_I"), 2),
                    f"{s}_runs": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
                                  for r in runs[s]]})
        out["synapses"] = syn
    if "neuromap_total_s" in out and "nest_total_s" in out:
        out["wall_ratio_neuromap_over_nest"] = round(out["neuromap_total_s"] / out["nest_total_s"], 3)
        out["sim_ratio_neuromap_over_nest"] = round(out["neuromap_sim_s"] / out["nest_sim_s"], 3)
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    del np
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--side":
        fn = side_neuromap if sys.argv[2] == "neuromap" else side_nest
        print(json.dumps(fn(json.loads(sys.argv[3]))))
    elif "--medium" in sys.argv:            # -> bench/results/float_reference_medium.json
        res = run(cfg=MEDIUM)
        res["_description"] = DESCRIPTION.replace("10 k neurons, 10 M synapses, 1 s",
                                                  "5 k neurons, 2.5 M synapses, 300 ms")
        res["date"] = __import__("time").strftime("%Y-%m-%d %H:%M")
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                               "float_reference_medium.json"), "w") as f:
            json.dump(res, f, indent=1)
        print(json.dumps(res, indent=1))
    else:
        res = run(quick="--quick" in sys.argv)
        print(json.dumps(res, indent=1))
