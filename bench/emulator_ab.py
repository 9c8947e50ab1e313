"""The numba engine's time loop of this tree against another tree's, in one process, alternating run by run: on
a loaded machine (other jobs on both cores) separate subprocesses minutes apart see different loads, while two
runs of the same loop seconds apart see nearly the same one, so their ratio is what can be measured.

For every image of ``bench/emulator_scale.py`` named: the program is prepared and flattened once by this tree;
the other tree's ``emulator/engine_numba.py`` is loaded from ``--before DIR`` as a module of its own (its
``run_chunk`` runs the same :class:`emulator.program.Program` in the widths trees before the narrowing read
(:func:`_wide`: int64 decay factors, thresholds, biases, neuron cores and u/v state; the older kernels accept
them, and the narrow arrays would lend the old loop this tree's memory traffic). Inputs are drawn once, outside
the timers. Per repeat both loops run the whole ``steps`` from the initial state, in the order ABBA..., on one
thread; CPU seconds per run (numba releases nothing to other threads here). Spikes, final u/v and counters of
every run are digested: both trees must agree bit for bit.

``python -m bench.emulator_ab --before DIR [--images a,b] [--repeats N]``; writes nothing, prints JSON.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import time

import numpy as np

from bench.emulator_scale import IMAGES, _digest, build


def _engine_of(tree: str):
    """``tree``'s engine_numba as a module named ``before_engine_numba`` (its own numba cache)."""
    spec = importlib.util.spec_from_file_location("before_engine_numba",
                                                  os.path.join(tree, "emulator", "engine_numba.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["before_engine_numba"] = mod
    spec.loader.exec_module(mod)
    return mod


def _wide(p):
    """``p`` with int64 decay factors (the multiply every tree implements), thresholds, biases and neuron cores."""
    D = int(p.arith[0])
    dec = {k: getattr(p, k) if getattr(p, k).dtype == np.int64 else
           np.rint(getattr(p, k).astype(np.float64) * 2.0 ** D).astype(np.int64) for k in ("decay_u", "decay_v")}
    return dataclasses.replace(p, **dec, **{k: getattr(p, k).astype(np.int64) for k in ("vth", "bias", "neuron_core")})


def _one(eng, p, steps, in_ptr, in_ids, fan_of_src):
    from emulator.state import ChunkOut, State
    st = State.initial(p)
    if p.vth.dtype == np.int64:                                   # the wide side: its u/v int64 too
        st.u, st.v = st.u.astype(np.int64), st.v.astype(np.int64)
    out = ChunkOut.empty(steps, steps * p.n_neurons + in_ids.size + 1, 0)
    probe = np.zeros(0, np.int64)
    c, w = time.process_time(), time.perf_counter()
    eng.run_chunk(p, st, 0, steps, in_ptr, in_ids, probe, out)
    cpu, wall = time.process_time() - c, time.perf_counter() - w
    eng.fold_link_spikes(p, st)
    sp = out.spikes[:out.n_spikes]
    return {"cpu": cpu, "wall": wall, "events": int(fan_of_src[sp[:, 1]].sum()), "spikes": int(sp.shape[0]),
            "digest": _digest(sp, st.u, st.v, st.core_spikes, st.link_spikes)}


def run(before: str, names: list[str], repeats: int) -> dict:
    from emulator import engine_numba as new
    from emulator.inputs import InputSchedule
    from emulator.program import flatten, prepare
    from neuromap.image import load_image
    old = _engine_of(before)
    res: dict = {"before_tree": before, "cores": os.cpu_count()}
    for name in names:
        img = load_image(build(name))
        steps = IMAGES[name][3]
        p = flatten(prepare(img))
        fan_of_src = np.diff(p.run_syn[p.run_ptr])              # synapses per source over its runs
        po = _wide(p)
        in_ptr, in_ids = InputSchedule(p).chunk(0, steps)
        for eng, prog in ((new, p), (old, po)):                   # compile (or load the cache)
            _one(eng, prog, 3, in_ptr[:4], in_ids[:in_ptr[3]], fan_of_src)
        runs = {"after": [], "before": []}
        loads = []
        for r in range(repeats):
            order = [("after", new, p), ("before", old, po)]
            for tag, eng, prog in (order if r % 2 == 0 else order[::-1]):
                loads.append(round(os.getloadavg()[0], 2))
                runs[tag].append(_one(eng, prog, steps, in_ptr, in_ids, fan_of_src))
        row = {"steps": steps, "cores": int(img.n_cores), "synapses": int(img.n_synapses),
               "loadavg_1min_before_runs": loads,
               "bit_identical": len({x["digest"] for rs in runs.values() for x in rs}) == 1}
        for tag, rs in runs.items():
            cpu = sorted(x["cpu"] for x in rs)
            med = cpu[len(cpu) // 2]
            ev = rs[0]["events"]
            row[f"{tag}_cpu_ms_per_step_runs"] = [round(1e3 * x["cpu"] / steps, 3) for x in rs]
            row[f"{tag}_wall_ms_per_step_runs"] = [round(1e3 * x["wall"] / steps, 3) for x in rs]
            row[f"{tag}_cpu_ms_per_step"] = round(1e3 * med / steps, 3)
            row[f"{tag}_syn_events_per_cpu_s"] = round(ev / med)
            row[f"{tag}_best_syn_events_per_cpu_s"] = round(ev / cpu[0])
        pairs = [a["cpu"] / b["cpu"] for a, b in zip(runs["before"], runs["after"])]
        row["before_over_after_cpu_pairs"] = [round(x, 3) for x in pairs]
        row["before_over_after_cpu_median"] = round(sorted(pairs)[len(pairs) // 2], 3)
        res[name] = row
        print(name, json.dumps(row), file=sys.stderr, flush=True)
    return res


if __name__ == "__main__":
    argv = sys.argv[1:]
    before = argv[argv.index("--before") + 1]
    names = argv[argv.index("--images") + 1].split(",") if "--images" in argv else ["fanout100_1k", "fanout100_100k"]
    reps = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 5
    print(json.dumps(run(before, names, reps), indent=1))
