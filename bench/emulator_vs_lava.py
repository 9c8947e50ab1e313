"""Emulator vs Lava 0.10.0 fixed_pt, side by side on identical networks (issue 3; valid images since issue 16).

Networks (``bench/emulator_scale.py``): LIF(n) -> 10 % -> LIF(n), every pre neuron to exactly n/10 random
post neurons: n = 1000 (0.1 M synapses; Lava ``Dense``) and n = 10 000 (10 M synapses; Lava ``Sparse``);
1000 steps. The pre population is driven by per-neuron biases (mean rate ~5 % of neurons per step). The
emulator runs the *compiled image*: default passes, sequential placer, placement checker and image verifier
(the 10 000 case on the 64-chip board, ~6000 cores: each core's 4096 input axons hold the distinct sources of
only a few post neurons); a verifier failure fails the benchmark. (Before issue 16 the images were built with
fill-in-order partitioning into 1024-neuron cores without the verifier: the 10 000 case had 20 cores each
receiving ~10 000 sources, over the 4096 input-axon limit, so its numbers were not those of a valid image.)
Images are cached on disk (``NEUROMAP_BENCH_IMAGES``). Each measurement runs in its own
subprocess so its peak RSS is its own (Lava: the runtime process plus its
children). Lava is timed over steps 2..1000 (step 1 starts its processes); the
emulator's numba engine over 1000 steps after a warm-up run (JIT compiled once).
The emulator runs twice per repeat: on one thread (``threads=1``: ``*_1thread``, whose
synaptic events per CPU second are the one-core figure) and with its default threads
(``threads=None``: measured per run, :mod:`emulator.threads`, ``*_default``; Lava too
runs each process in its own OS process). The final u and v of every run must be identical
(sha256) or the benchmark reports a mismatch. The machine is shared, so one measurement can be off by 2-3x:
each side is measured ``REPEATS`` times, alternating emulator and Lava subprocesses (the
same protocol for both), and the reported time of each side is its median run; every run's
ms/step and the 1-min load average before it are listed too. Memory: ``program_mb`` is every array the emulator
holds while running (the flattened image plus the delay ring buffer), compared with
the int32 weights Lava holds; ``peak_rss`` includes loading the image.

``python -m bench.emulator_vs_lava [--quick] [--cases dense_1000,sparse_10000]`` or ``python -m bench.run
emulator_vs_lava``.
"""
from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time

import numpy as np

NAME = "emulator_vs_lava"
DESCRIPTION = ("Bit-accurate Loihi emulator (numba) on valid compiled images vs Lava 0.10.0 fixed_pt on "
               "LIF->Dense 10%->LIF (1000) and LIF->Sparse 10%->LIF (10000, ~6000 cores on a 64-chip board), "
               "1000 steps; final u/v compared bit for bit.")

#: measurements per side and case (medians reported)
REPEATS = 3
#: case -> (emulator_scale image, Lava connection process)
CASES = {"dense_1000": ("fanout100_1k", "dense"), "sparse_10000": ("fanout1000_10k", "sparse")}
PROJ = dict(weight_exp=0, num_weight_bits=8, sign_mode="mixed")


def network_arrays(image: str):
    """Biases and the (pre, post, weight) synapse list of an ``emulator_scale`` image's network."""
    from bench.emulator_scale import IMAGES, network_arrays as arrays
    n, fan, _, _ = IMAGES[image]
    return arrays(n, fan)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, np.int64)).tobytes())
    return h.hexdigest()[:16]


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + kids) / 1024, 1)


def _rss_now_mb() -> float:
    """Current resident set size (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def worker_emulator(image: str, steps: int, threads: str = "1") -> dict:
    """``threads``: "1" or "default" (measured per run, :mod:`emulator.threads`)."""
    from bench.emulator_scale import build
    from emulator import emulate
    from emulator.program import flatten, prepare
    from emulator.state import State
    from neuromap.image import load_image

    rss0 = _rss_mb()
    img = load_image(build(image))                          # compiled with the verifiers (cached)
    prog = flatten(prepare(img))                            # what emulate() runs first (not timed)
    n = img.population("pre").size
    n_syn = img.n_synapses
    fan = np.diff(img.axons["syn_ptr"].astype(np.int64))
    rt = img.routes
    gax = img.cores["axon_ptr"].astype(np.int64)[rt["core"].astype(np.int64)] + rt["axon"].astype(np.int64)
    src = np.repeat(np.arange(img.n_neurons + img.n_inputs), np.diff(rt["src_ptr"].astype(np.int64)))
    fan_of_src = np.bincount(src, weights=fan[gax], minlength=img.n_neurons + img.n_inputs).astype(np.int64)
    cores = int(img.n_cores)
    del img
    th = 1 if threads == "1" else None
    emulate(prog, 5, threads=th)                            # JIT warm-up
    prog_bytes = sum(a.nbytes for a in vars(prog).values() if isinstance(a, np.ndarray))
    ring_bytes = State.initial(prog).ring.nbytes           # the int32 dendritic delay ring
    rss_run0 = _rss_now_mb()
    t, c = time.perf_counter(), time.process_time()
    run = emulate(prog, steps, threads=th)
    sec, cpu = time.perf_counter() - t, time.process_time() - c
    s = run.spikes[:, 1]
    chunks = run.thread_chunks
    return {"seconds": sec, "cpu_seconds": cpu, "steps": steps, "cores": cores,
            "threads": int(np.bincount(chunks).argmax()) if chunks.size else 1,
            "thread_chunks": np.bincount(chunks).tolist() if chunks.size else [],
            "spikes": int(s.size), "pre_spikes": int((s < n).sum()),
            "syn_events": int(fan_of_src[s].sum()), "synapses": n_syn,
            "final": _digest(run.final_u, run.final_v), "peak_rss_mb": _rss_mb(), "rss_before_build_mb": rss0,
            "program_mb": round((prog_bytes + ring_bytes) / 2 ** 20, 1),
            "run_rss_growth_mb": round(_rss_now_mb() - rss_run0, 1)}


def worker_lava(image: str, steps: int, kind: str) -> dict:
    from backends.lava.compat import import_lava
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    from bench.emulator_scale import LIF_POST, LIF_PRE
    bias, pre, post, w = network_arrays(image)
    n = bias.size
    a = LIF(shape=(n,), bias_mant=bias, bias_exp=0, **LIF_PRE)
    b = LIF(shape=(n,), **LIF_POST)
    kw = dict(weight_exp=PROJ["weight_exp"], num_weight_bits=PROJ["num_weight_bits"], sign_mode=SignMode.MIXED)
    m = csr_matrix((w.astype(np.int32), (post, pre)), shape=(n, n))
    conn = Sparse(weights=m, **kw) if kind == "sparse" else Dense(weights=m.toarray(), **kw)
    a.s_out.connect(conn.s_in)
    conn.a_out.connect(b.a_in)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        a.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        t = time.perf_counter()
        a.run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        sec = time.perf_counter() - t
        final = _digest(np.concatenate([a.u.get(), b.u.get()]), np.concatenate([a.v.get(), b.v.get()]))
    finally:
        a.stop()
    return {"seconds": sec, "steps": steps - 1, "final": final, "peak_rss_mb": _rss_mb(),
            "weight_bytes_int32": int(w.size * 4)}


def _sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.emulator_vs_lava", "--worker", *args],
                         capture_output=True, text=True, check=True)
    # (each worker is its own process: numba's threads and Lava's processes never share one)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the upper median for an even count)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def run(quick: bool = False, cases: list[str] | None = None) -> dict:
    steps = 200 if quick else 1000
    import os
    res: dict = {"steps": steps, "loadavg_1min_at_start": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}
    for name, (image, kind) in CASES.items():
        if (quick and image != "fanout100_1k") or (cases and name not in cases):
            continue
        emus, emts, lavas, loads = [], [], [], []
        for _ in range(1 if quick else REPEATS):        # alternate the three measurements
            loads.append(round(os.getloadavg()[0], 1))
            emus.append(_sub(["emulator", image, str(steps), "1"]))
            emts.append(_sub(["emulator", image, str(steps), "default"]))
            lavas.append(_sub(["lava", image, str(steps), kind]))
        emu, emt, lava = _median_run(emus), _median_run(emts), _median_run(lavas)
        lava_ms = 1e3 * lava["seconds"] / lava["steps"]
        n = int(network_arrays(image)[0].size)
        res.update({f"{name}_n": n, f"{name}_image": image, f"{name}_cores": emu["cores"],
                    f"{name}_synapses": emu["synapses"], f"{name}_lava_ms_per_step": round(lava_ms, 4)})
        for tag, e, runs in (("1thread", emu, emus), ("default", emt, emts)):
            ms = 1e3 * e["seconds"] / e["steps"]
            res.update({
                f"{name}_emulator_{tag}_threads": e["threads"],
                f"{name}_emulator_{tag}_thread_chunks": e["thread_chunks"],
                f"{name}_emulator_{tag}_ms_per_step": round(ms, 4),
                f"{name}_emulator_{tag}_cpu_ms_per_step": round(1e3 * e["cpu_seconds"] / e["steps"], 4),
                f"{name}_speedup_wall_{tag}": round(lava_ms / ms, 1),
                f"{name}_emulator_{tag}_syn_events_per_cpu_s": round(e["syn_events"] / e["cpu_seconds"]),
                f"{name}_emulator_{tag}_syn_events_per_s": round(e["syn_events"] / e["seconds"]),
                f"{name}_emulator_{tag}_ms_per_step_runs": [round(1e3 * r["seconds"] / r["steps"], 4) for r in runs],
            })
        res.update({
            f"{name}_spikes_per_s_1thread": round(emu["spikes"] / emu["seconds"]),
            f"{name}_mean_pre_rate_per_step": round(emu["pre_spikes"] / (n * steps), 4),
            f"{name}_emulator_peak_rss_mb": emu["peak_rss_mb"],
            f"{name}_emulator_program_mb": emu["program_mb"],
            f"{name}_emulator_program_over_int32_weights": round(
                emu["program_mb"] / (lava["weight_bytes_int32"] / 2 ** 20), 2),
            f"{name}_emulator_run_rss_growth_mb": emu["run_rss_growth_mb"],
            f"{name}_emulator_rss_before_build_mb": emu["rss_before_build_mb"],
            f"{name}_lava_peak_rss_mb": lava["peak_rss_mb"],
            f"{name}_weight_mb_int32": round(lava["weight_bytes_int32"] / 2 ** 20, 1),
            f"{name}_bit_identical": len({r["final"] for r in emus + emts + lavas}) == 1,
            f"{name}_lava_ms_per_step_runs": [round(1e3 * r["seconds"] / r["steps"], 4) for r in lavas],
            f"{name}_loadavg_1min_before_runs": loads,
        })
    return res


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        kind, image, steps = sys.argv[2], sys.argv[3], int(sys.argv[4])
        out = worker_emulator(image, steps, sys.argv[5]) if kind == "emulator" else worker_lava(image, steps,
                                                                                                sys.argv[5])
        print(json.dumps(out))
    else:
        sel = sys.argv[sys.argv.index("--cases") + 1].split(",") if "--cases" in sys.argv else None
        print(json.dumps(run(quick="--quick" in sys.argv, cases=sel), indent=1))
