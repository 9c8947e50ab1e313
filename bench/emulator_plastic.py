"""Plastic emulator vs Lava 0.10.0 fixed_pt: LIF(1000) -> 10 % -> LIF(1000) with STDPLoihi on the projection.

The network of :mod:`bench.emulator_vs_lava` (``dense_1000``: pre population driven by biases, the
same synapse list; zero weights are replaced by 2 because Lava's LearningSparse drops zero entries)
with ``stdp_loihi`` (learning_rate 2^-4, A_plus 1, A_minus -1, tau_plus = tau_minus = 10 steps,
impulses 16, t_epoch 1). The image goes through the compiler's default pipeline (plastic synapses need more synapse
memory per synapse, so the post population is split over cores; the verifier accepts it); the emulator runs it with
``emulator.plastic`` (numba engine; the numpy engine over fewer steps), Lava runs the backend's process graph
(LearningSparse: 10 % of pairs are connected). Emulator: ``steps`` steps after a JIT warm-up; Lava: steps 2..steps
(step 1 starts its processes). The final weights of both (and final u/v) must be identical (sha256) or
``bit_identical`` is false.
Each measurement runs in its own subprocess.

``python -m bench.emulator_plastic [--quick]`` or ``python -m bench.run emulator_plastic``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from bench.emulator_scale import LIF_POST, LIF_PRE, network_arrays as scale_arrays
from bench.emulator_vs_lava import PROJ, _digest, _rss_mb

NAME = "emulator_plastic"
DESCRIPTION = ("Plastic emulator (STDPLoihi on LIF(1000) -> 10% -> LIF(1000), numba engine; numpy engine over "
               "fewer steps) vs Lava 0.10.0 LearningSparse fixed_pt; final weights and u/v compared bit for bit.")
N = 1000
STDP = {"rule": "stdp_loihi", "learning_rate": 2 ** -4, "A_plus": 1, "A_minus": -1, "tau_plus": 10,
        "tau_minus": 10, "rng_seed": 1}


def image(n: int):
    from neuromap.network import Network
    from neuromap.toolchain import compile_network

    bias, pre, post, w = scale_arrays(n, n // 10)          # emulator_vs_lava's dense_1000 network (10 %)
    w = np.where(w == 0, 2, w)
    net = Network(seed=1)
    net.add_population("pre", n, neuron="loihi_lif", bias_mant=bias.tolist(), **LIF_PRE)
    net.add_population("post", n, neuron="loihi_lif", **LIF_POST)
    net.connect("pre", "post", connect={"rule": "list", "pre": pre, "post": post}, weight=w, plasticity=STDP,
                **PROJ)
    return compile_network(net).image


def worker_emulator(n: int, steps: int, engine: str) -> dict:
    from emulator import emulate

    img = image(n)
    emulate(img, 3, engine)                                 # JIT warm-up (both kernels)
    t, c = time.perf_counter(), time.process_time()
    run = emulate(img, steps, engine)
    sec, cpu = time.perf_counter() - t, time.process_time() - c
    w = run.weights[0][-1]
    return {"seconds": sec, "cpu_seconds": cpu, "steps": steps, "spikes": int(run.spikes.shape[0]),
            "synapses": img.n_synapses, "changed": int(np.count_nonzero(w != img.synapses["weight"])),
            "final": _digest(w, run.final_u, run.final_v), "peak_rss_mb": _rss_mb()}


def worker_lava(n: int, steps: int) -> dict:
    from backends.lava.build import build_network
    from backends.lava.compat import import_lava
    from backends.lava.plan import plan_image
    from backends.lava.run import _weight_slots, read_weights
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    img = image(n)
    plan = plan_image(img)
    net = build_network(plan, steps)
    syn_proj = img.synapse_projections()
    slots = _weight_slots(plan, syn_proj)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        net.root.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        t = time.perf_counter()
        net.root.run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        sec = time.perf_counter() - t
        w = read_weights(net, slots, {0: img.n_synapses})[0]
        order = [np.concatenate([lif.u.get() for lif in net.lifs]), np.concatenate([lif.v.get() for lif in net.lifs])]
        ids = np.concatenate([g.neurons for g in plan.groups])
        u, v = np.zeros(plan.n_neurons, np.int64), np.zeros(plan.n_neurons, np.int64)
        u[ids], v[ids] = order
        kinds = sorted({type(p).__name__ for p in net.connections})
    finally:
        net.root.stop()
    return {"seconds": sec, "steps": steps - 1, "final": _digest(w, u, v), "processes": kinds,
            "peak_rss_mb": _rss_mb()}


def _sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.emulator_plastic", "--worker", *args],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    import os
    steps = 200 if quick else 1000
    np_steps = 50 if quick else 100
    res: dict = {"steps": steps, "n": N, "loadavg_1min_at_start": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}
    emu = _sub(["emulator", str(N), str(steps), "numba"])
    emu_np = _sub(["emulator", str(N), str(np_steps), "numpy"])
    emu_short = _sub(["emulator", str(N), str(np_steps), "numba"])
    lava = _sub(["lava", str(N), str(steps)])
    emu_ms, lava_ms = 1e3 * emu["seconds"] / emu["steps"], 1e3 * lava["seconds"] / lava["steps"]
    res.update({
        "synapses": emu["synapses"],
        "lava_processes": ", ".join(lava["processes"]),
        "lava_ms_per_step": round(lava_ms, 3),
        "emulator_numba_ms_per_step": round(emu_ms, 3),
        "emulator_numba_cpu_ms_per_step": round(1e3 * emu["cpu_seconds"] / emu["steps"], 3),
        "emulator_numpy_ms_per_step": round(1e3 * emu_np["seconds"] / emu_np["steps"], 3),
        "numpy_steps": np_steps,
        "speedup_wall": round(lava_ms / emu_ms, 1),
        "spikes": emu["spikes"],
        "weights_changed": emu["changed"],
        "emulator_peak_rss_mb": emu["peak_rss_mb"],
        "lava_peak_rss_mb": lava["peak_rss_mb"],
        "bit_identical": emu["final"] == lava["final"],
        "numpy_equals_numba": emu_np["final"] == emu_short["final"],
    })
    return res


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        kind, n, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        out = worker_emulator(n, steps, sys.argv[5]) if kind == "emulator" else worker_lava(n, steps)
        print(json.dumps(out))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
