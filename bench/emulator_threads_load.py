"""Default emulator threads vs one thread on a machine loaded on purpose (issue 21: "the emulator's default
thread count never makes a run slower than one thread on a loaded machine").

Load: ``K`` busy-loop processes (``while True: pass``, one Python process each) run during the whole
measurement of a load level, K in :data:`LOADS` (0 = whatever else runs). Images: the 10 M-synapse
``emulator_scale`` images ``fanout100_100k`` (4878 cores; two threads win on a quiet machine) and
``fanout1000_10k`` (6084 cores; they do not), compiled and cached by ``bench/emulator_scale.py``.

Protocol: per image, load level and tree, one worker process loads the image, flattens it (not timed, as in
``bench/emulator_vs_lava.py``), runs both settings once untimed (JIT, thread pool), then
:data:`REPEATS` times alternately ``emulate(prog, steps, threads=1)`` and ``emulate(prog, steps)`` (the
default: the T-thread program's preparation is inside the timed run), the order within a pair alternating
(ABBA: a second run of a pair is often slower on this shared machine, whatever it runs); the 1-min load
average is recorded before every run. Reported per setting: the median wall ms/step and every run's, the chunks run on
each
thread count, and ``default / one thread`` = the ratio of the medians. Every run's final u/v are digested:
all must agree. ``--before DIR`` measures another checkout the same way (its tree alternating with this
one's per load level), e.g. the chooser before its loss budget (``git archive db1b808 | tar -x -C DIR``).

``python -m bench.emulator_threads_load [--quick] [--before DIR] [--loads 0,2,4] [--images a,b]`` (the results of
earlier invocations for other images stay in bench/results/emulator_threads_load.json/.md).
"""
from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

NAME = "emulator_threads_load"
DESCRIPTION = ("Emulator default threads vs threads=1 under 0/2/4 busy-loop processes on 2 cores, "
               "10 M-synapse images, alternated, medians; this tree vs --before.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: busy-loop processes per load level
LOADS = (0, 2, 4)
#: alternated (one thread, default) pairs per image, load level and tree
REPEATS = 6
#: image -> steps per run (microcircuit_0.1: 3.0 M synapses, dendrite slots, Poisson inputs, refractory periods)
IMAGES = {"fanout100_100k": 1000, "fanout1000_10k": 1000, "microcircuit_0.1": 4000}


def worker(path: str, steps: int, repeats: int) -> dict:
    from emulator.threads import passive_wait
    passive_wait()
    import numpy as np

    from emulator import emulate
    from emulator.program import flatten, prepare
    from neuromap.image import load_image
    prog = flatten(prepare(load_image(path)))
    for th in (1, 2, None):                     # JIT (also of the threaded loops, for either tree) and threads
        emulate(prog, 20, threads=th)
    runs = []
    for k in range(repeats):          # ABBA: the order within a pair alternates (no place in a pair is favoured)
        for th in ((1, None) if k % 2 == 0 else (None, 1)):
            load = round(os.getloadavg()[0], 2)
            t = time.perf_counter()
            r = emulate(prog, steps, threads=th)
            sec = time.perf_counter() - t
            h = hashlib.sha256(np.asarray(r.final_u, np.int64).tobytes() + np.asarray(r.final_v, np.int64).tobytes())
            runs.append({"threads": "1" if th == 1 else "default", "ms_per_step": round(1e3 * sec / steps, 4),
                         "first_in_pair": (th == 1) == (k % 2 == 0),
                         "loadavg_1min": load, "digest": h.hexdigest()[:16],
                         "chunks": {str(k): int(v) for k, v in
                                    zip(*np.unique(r.thread_chunks, return_counts=True))}})
    return {"runs": runs}


def _sub(tree: str, args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", *args], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _busy(k: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]


def run(quick: bool = False, before: str | None = None, loads=None, images=None) -> dict:
    from bench.emulator_scale import build
    trees = {"after": ROOT} | ({"before": before} if before else {})
    res: dict = {"cores": os.cpu_count(), "loadavg_1min_at_start": round(os.getloadavg()[0], 2),
                 "repeats": 1 if quick else REPEATS, "before_tree": before, "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                           time.gmtime())}
    digests = set()
    for name in images or list(IMAGES):
        path = build(name)
        steps = IMAGES[name] // (5 if quick else 1)
        for k in loads if loads is not None else LOADS:
            procs = _busy(k)
            try:
                time.sleep(2.0)
                for tag, tree in trees.items():
                    out = _sub(tree, [path, str(steps), str(res["repeats"])])
                    rows = out["runs"]
                    digests |= {r["digest"] for r in rows}
                    one = [r["ms_per_step"] for r in rows if r["threads"] == "1"]
                    dft = [r["ms_per_step"] for r in rows if r["threads"] == "default"]
                    res[f"{name}_busy{k}_{tag}"] = {
                        "steps": steps, "busy_processes": k,
                        "loadavg_1min_runs": [r["loadavg_1min"] for r in rows],
                        "one_thread_ms_per_step": statistics.median(one),
                        "default_ms_per_step": statistics.median(dft),
                        "default_over_one_thread": round(statistics.median(dft) / statistics.median(one), 3),
                        "one_thread_runs": one, "default_runs": dft,
                        "default_chunks": [r["chunks"] for r in rows if r["threads"] == "default"]}
                    print(name, k, tag, res[f"{name}_busy{k}_{tag}"]["default_over_one_thread"], file=sys.stderr,
                          flush=True)
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
    res["bit_identical"] = len(digests) <= len(images or IMAGES)
    return res


def markdown(res: dict) -> str:
    lines = [f"# Default threads vs one thread under load ({res['date']}, {res['cores']} cores)", "",
             "Busy processes: `while True: pass` loops running during the whole row. ms/step: medians of "
             f"{res['repeats']} alternated runs per side (every run listed in the JSON). "
             "default / 1: ratio of the medians (> 1: the default was slower).", "",
             "| image | busy | tree | 1-min load | 1 thread ms/step | default ms/step | default / 1 | "
             "default's chunks on 1 / 2 threads (per run) |", "|---|---|---|---|---|---|---|---|"]
    for key, row in res.items():
        if not isinstance(row, dict):
            continue
        image, tag = key.split("_busy")[0], key.rsplit("_", 1)[1]
        la = row["loadavg_1min_runs"]
        ch = " ".join(f"{c.get('1', 0)}/{c.get('2', 0)}" for c in row["default_chunks"])
        lines.append(f"| {image} | {row['busy_processes']} | {tag} | {min(la)}-{max(la)} | "
                     f"{row['one_thread_ms_per_step']} | {row['default_ms_per_step']} | "
                     f"**{row['default_over_one_thread']}** | {ch} |")
    lines += ["", f"Final u/v identical across all runs of an image: {res['bit_identical']}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker(argv[1], int(argv[2]), int(argv[3]))))
    else:
        before = argv[argv.index("--before") + 1] if "--before" in argv else None
        loads = [int(x) for x in argv[argv.index("--loads") + 1].split(",")] if "--loads" in argv else None
        images = argv[argv.index("--images") + 1].split(",") if "--images" in argv else None
        result = run(quick="--quick" in argv, before=before, loads=loads, images=images)
        out = os.path.join(ROOT, "bench", "results", NAME)
        if os.path.exists(out + ".json"):             # one image per invocation (each within a lock hold)
            with open(out + ".json") as f:
                old = json.load(f)
            result = {**old, **result, "bit_identical": old.get("bit_identical", True) and result["bit_identical"]}
        with open(out + ".json", "w") as f:
            json.dump(result, f, indent=1)
        with open(out + ".md", "w") as f:
            f.write(markdown(result))
        print(markdown(result))
