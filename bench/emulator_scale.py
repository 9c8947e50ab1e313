"""The emulator on valid, placed multi-core images (issue 16 item 4): synaptic events per CPU second as the
placement's core and route counts grow, this tree against another checkout of the emulator.

Images (every one compiled by :func:`neuromap.compiler.compile_network` with the default passes: the
placement checker and the image verifier run, and a failing verifier fails the benchmark):

* ``fanout100_1k``: 1 000 -> 1 000 loihi_lif neurons, fan-out 100 (0.1 M synapses), ``loihi``, 2 cores;
* ``fanout100_10k``: 10 000 -> 10 000, fan-out 100 (1 M synapses), ``loihi``, sequential placer;
* ``fanout1000_10k``: 10 000 -> 10 000, fan-out 1 000 (10 M synapses), 64-chip board, sequential placer;
* ``fanout100_100k``: 100 000 -> 100 000, fan-out 100 (10 M synapses), 64-chip board, sequential placer.

The pre population is driven by per-neuron biases (periods 13..33 steps, ~5 % of the pre neurons spike per
step, as ``bench/emulator_vs_lava.py``); every pre neuron connects to ``fan-out`` distinct random post
neurons, weights even in [-128, 254] (8 bit, mixed), delay 1. Compiled images are cached on disk
(``NEUROMAP_BENCH_IMAGES``, default ``/tmp/neuromap-bench-images``; the big compiles take minutes) and
reused when the network's digest matches.

Protocol: every measurement is its own subprocess (``--worker``); per image and repeat the two trees
alternate (``--before DIR``: the other checkout's root, e.g. ``git worktree add /tmp/old-emu 8569f5d``), each on
one thread and with its default threads; medians of ``REPEATS``; the 1-min load average before every run is
recorded. Synaptic events = per spike, the synapses its routes reach. Every run's spikes, final u/v and
core/link counters are digested: the two trees must agree bit for bit or the result says so.

``python -m bench.emulator_scale [--quick] [--before DIR] [--images a,b] [--repeats N]``
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

NAME = "emulator_scale"
DESCRIPTION = ("Emulator synaptic events per CPU second on valid placed images of 2 to ~6000 cores "
               "(0.1 M to 10 M synapses), this tree vs --before, one thread and default threads.")

REPEATS = 3
#: name -> (n pre = n post, fan-out, target, steps)
IMAGES = {
    "fanout100_1k": (1_000, 100, "loihi", 2000),
    "fanout100_10k": (10_000, 100, "loihi", 500),
    "fanout1000_10k": (10_000, 1_000, "examples/targets/loihi_64chips.toml", 200),
    "fanout100_100k": (100_000, 100, "examples/targets/loihi_64chips.toml", 200),
    # the Potjans-Diesmann microcircuit (examples/microcircuit.py) at scale 0.1: 7 717 neurons, 7 717 Poisson
    # inputs, 3.0 M synapses, delays up to 56 steps, weight_exp < 0 (dendrite slots); dt = 0.1 ms
    "microcircuit_0.1": (0.1, None, "examples/targets/loihi_microcircuit.toml", 4000),
    "microcircuit_0.2": (0.2, None, "examples/targets/loihi_microcircuit.toml", 2000),   # 12 M synapses
}
#: network time per step (ms) of the images whose real-time factor is reported
DT_MS = {"microcircuit_0.1": 0.1, "microcircuit_0.2": 0.1}
LIF_PRE = dict(du=0, dv=0, vth=100)
LIF_POST = dict(du=410, dv=205, vth=2000)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cache_dir() -> str:
    return os.environ.get("NEUROMAP_BENCH_IMAGES", "/tmp/neuromap-bench-images")


def network_arrays(n: int, fan_out: int, seed: int = 5):
    """Biases of the ``n`` pre neurons and the (pre, post, weight) synapse list: every pre neuron to ``fan_out``
    distinct random post neurons, sorted by (post, pre); weights even in [-128, 254]."""
    rng = np.random.default_rng(seed)
    bias = rng.integers(200, 500, n)
    post = np.empty((n, fan_out), np.int64)
    for i in range(n):
        post[i] = rng.choice(n, fan_out, replace=False)
    pre = np.repeat(np.arange(n, dtype=np.int64), fan_out)
    post = post.reshape(-1)
    order = np.lexsort((pre, post))
    pre, post = pre[order], post[order]
    w = rng.integers(-64, 128, pre.size) * 2
    return bias, pre, post, w


def network(n: int, fan_out: int, seed: int = 5):
    """The benchmark network (:func:`network_arrays`) as a :class:`neuromap.network.Network`."""
    from neuromap.network import Network
    bias, pre, post, w = network_arrays(n, fan_out, seed)
    net = Network(seed=1, name=f"fanout{fan_out}_{n}")
    net.add_population("pre", n, neuron="loihi_lif", bias_mant=bias.tolist(), **LIF_PRE)
    net.add_population("post", n, neuron="loihi_lif", **LIF_POST)
    net.connect("pre", "post", connect={"rule": "list", "pre": pre, "post": post}, weight=w, weight_exp=0,
                num_weight_bits=8, sign_mode="mixed")
    return net


def microcircuit(scale: float):
    """examples/microcircuit.py's network at ``scale`` (Poisson drive)."""
    sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]
    import microcircuit as m
    return m.build(scale)


def build(name: str) -> str:
    """Compile image ``name`` (default passes, sequential placer: the verifiers run) unless cached; its path."""
    from neuromap.network import network_hash
    from neuromap.toolchain import compile_network
    n, fan, target, _ = IMAGES[name]
    path = os.path.join(cache_dir(), name)
    net = microcircuit(n) if fan is None else network(n, fan)
    digest = network_hash(net) + target
    stamp = os.path.join(path, "bench-network.json")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f).get("digest") == digest:
                return path
    t = time.perf_counter()
    tgt = target if not target.endswith(".toml") else os.path.join(ROOT, target)
    img = compile_network(net, tgt, placer="sequential", rate_check="never").image
    seconds = time.perf_counter() - t
    if os.path.exists(stamp):         # a stale cached image: its stamp first, so that save may replace it
        os.remove(stamp)
    img.save(path, force=True)
    with open(stamp, "w") as f:
        json.dump({"digest": digest, "compile_seconds": round(seconds, 1), "cores": int(img.n_cores),
                   "routes": int(img.routes["axon"].size), "synapses": int(img.n_synapses)}, f)
    return path


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a, np.int64)).tobytes())
    return h.hexdigest()[:16]


def worker(path: str, steps: int, threads: str) -> dict:
    """One run of the image at ``path`` with this process's ``emulator`` (whatever tree PYTHONPATH points at)."""
    from emulator import emulate
    from neuromap.image import load_image
    img = load_image(path)
    rt = img.routes
    fan = np.diff(img.axons["syn_ptr"].astype(np.int64))
    gax = img.cores["axon_ptr"].astype(np.int64)[rt["core"].astype(np.int64)] + rt["axon"].astype(np.int64)
    src = np.repeat(np.arange(img.n_neurons + img.n_inputs), np.diff(rt["src_ptr"].astype(np.int64)))
    fan_of_src = np.bincount(src, weights=fan[gax], minlength=img.n_neurons + img.n_inputs).astype(np.int64)
    th = None if threads == "default" else int(threads)
    t = time.perf_counter()
    prog = _program(img)                                    # what emulate(image) prepares first (timed apart)
    setup = time.perf_counter() - t
    emulate(prog, 3, threads=th)                            # JIT (cached) and thread pool warm-up
    t, c = time.perf_counter(), time.process_time()
    run = emulate(prog, steps, threads=th)
    sec, cpu = time.perf_counter() - t, time.process_time() - c
    chunks = getattr(run, "thread_chunks", None)
    s = run.spikes[:, 1]
    return {"seconds": sec, "cpu_seconds": cpu, "setup_seconds": setup, "steps": steps, "spikes": int(s.size),
            "thread_chunks": None if chunks is None else np.bincount(chunks).tolist(),
            "syn_events": int(fan_of_src[s].sum()), "cores": int(img.n_cores), "routes": int(rt["axon"].size),
            "synapses": int(img.n_synapses),
            "digest": _digest(run.spikes, run.final_u, run.final_v, run.core_spikes, run.link_spikes)}


def _program(img):
    """The static program the numba engine runs: flattened delivery runs (this tree) or packed axons
    (before issue 16: ``emulator.program.pack``)."""
    from emulator import program
    p = program.prepare(img)
    if hasattr(program, "flatten"):
        return program.flatten(p)
    return program.pack(p) or p


def _sub(tree: str, args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    # this file as a script: the other tree need not have it; ``emulator`` is imported from ``tree``
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", *args], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["cpu_seconds"])[len(runs) // 2]


def run(quick: bool = False, before: str | None = None, names: list[str] | None = None) -> dict:
    res: dict = {"loadavg_1min_at_start": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
                 "before_tree": before}
    trees = {"after": ROOT} | ({"before": before} if before else {})
    for name in names or (["fanout100_1k"] if quick else list(IMAGES)):
        path = build(name)
        steps = IMAGES[name][3] // (4 if quick else 1)
        runs: dict = {(tag, th): [] for tag in trees for th in ("1", "default")}
        loads = []
        for _ in range(1 if quick else REPEATS):
            for th in ("1", "default"):
                for tag, tree in trees.items():          # alternate the trees run by run
                    loads.append(round(os.getloadavg()[0], 2))
                    runs[(tag, th)].append(_sub(tree, [path, str(steps), th]))
        first = next(iter(runs.values()))[0]
        row = {"cores": first["cores"], "routes": first["routes"], "synapses": first["synapses"], "steps": steps,
               "loadavg_1min_before_runs": loads,
               "bit_identical": len({r["digest"] for rs in runs.values() for r in rs}) == 1}
        for (tag, th), rs in runs.items():
            m = _median(rs)
            key = f"{tag}_{'1thread' if th == '1' else 'default_threads'}"
            row[f"{key}_ms_per_step"] = round(1e3 * m["seconds"] / steps, 3)
            row[f"{key}_syn_events_per_cpu_s"] = round(m["syn_events"] / m["cpu_seconds"])
            # the least-disturbed run: on a loaded machine other processes only ever add CPU time (caches, TLB)
            row[f"{key}_best_syn_events_per_cpu_s"] = round(m["syn_events"] / min(r["cpu_seconds"] for r in rs))
            row[f"{key}_syn_events_per_s"] = round(m["syn_events"] / m["seconds"])
            row[f"{key}_cpu_ms_per_step_runs"] = [round(1e3 * r["cpu_seconds"] / steps, 3) for r in rs]
            row[f"{key}_ms_per_step_runs"] = [round(1e3 * r["seconds"] / steps, 3) for r in rs]
            if name in DT_MS:                                # wall time per network time
                row[f"{key}_real_time_factor"] = round(1e3 * m["seconds"] / steps / DT_MS[name], 2)
        res[name] = row
    return res


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker(argv[1], int(argv[2]), argv[3])))
    elif argv[:1] == ["--build"]:
        for nm in argv[1:]:
            t0 = time.perf_counter()
            print(nm, build(nm), round(time.perf_counter() - t0, 1), "s", flush=True)
    else:
        before = argv[argv.index("--before") + 1] if "--before" in argv else None
        names = argv[argv.index("--images") + 1].split(",") if "--images" in argv else None
        if "--repeats" in argv:
            REPEATS = int(argv[argv.index("--repeats") + 1])
        print(json.dumps(run(quick="--quick" in argv, before=before, names=names), indent=1))
