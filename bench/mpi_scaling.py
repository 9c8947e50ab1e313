"""Strong scaling of the emulator over MPI ranks (issue 17 item 5) on two >= 10 M-synapse images, each compiled
with every pass and verifier (``--placer sequential``) and saved in image format version 2:

* ``brunel_100k``: the Brunel network of the compile-at-scale work (``bench.compile_scale.brunel``: 100 000
  LIF neurons, in-degree 100 + one private 2 kHz Poisson input each, 10.1 M synapses, delay 1.5 ms = 15 steps);
* ``fanout100_100k``: ``bench.emulator_scale``'s 100 000 bias-driven neurons -> 100 000, fan-out 100 (10 M
  synapses, delay 1) on the 64-chip target.

Each runs ``STEPS`` steps in

* one process (``emulator.emulate``, one thread, and with its default threads), and
* ``mpiexec -n K`` ranks (``emulator.sharded``: each rank memory-maps its chips' shards), K = 1, 2 on this
  machine's 2 cores; K = 3, 4 oversubscribed (reported separately).

K-rank runs end in either results mode of ``neuromap run`` (docs/scale-out.md, *Results*): ``mpi_K`` per rank
(timed until every rank holds its own part; the summary ``neuromap run`` prints and, with ``--write``, the part
files and the index timed apart as ``write_s``) and ``mpi_K_gathered`` (timed until rank 0 holds the whole
run; ``--no-gathered`` skips it). With ``--write`` the one process also writes its results file (``Results`` +
``.npz``, as ``neuromap run -o``), timed apart. Every measurement is its own process (``--worker``); one process
(1 thread) and the K = 2 runs alternate ``REPEATS`` times (medians), the other configurations run once; the
1-min load average before each run is recorded.
Times cover the time loop and its setup (the one process's prepare/flatten, the ranks' programs), not the
image load nor loading numba's cached kernels (a 2-step run first); ranks meet at a barrier before and after.
Per rank: compute (engine chunks: LIF update, local delivery, inputs), deferred delivery (exchanged spikes),
exchange (point-to-point messages, waiting for the ranks a rank needs included), bytes sent/received per step,
the finish (gathers to rank 0, the merge of the spike records), peak RSS at the end of the loop and overall,
and the bytes of its programs. Every run's spikes, final u/v and counters are digested: the K-rank runs must
equal the one-process run bit for bit.

``python -m bench.mpi_scaling [--steps 1000] [--repeats 3] [--ks 1,2] [--over 3,4] [--images a,b] [--out NAME]
[--write] [--no-gathered]``
(results: ``bench/results/NAME.{json,md}``, default ``mpi_scaling``; per rank also the set-up and finish phases)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

NAME = "mpi_scaling"
DESCRIPTION = ("Strong scaling of the emulator on MPI ranks (Brunel 100 k, 10.1 M synapses): wall time per step "
               "for one process and K ranks, compute vs communication, bytes per step, per-rank memory.")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
N_NEURONS = 100_000
STEPS = 1000
REPEATS = 3


def cache_dir() -> Path:
    return Path(os.environ.get("NEUROMAP_BENCH_IMAGES", "/tmp/neuromap-bench-images"))


def _brunel():
    from bench.compile_scale import brunel, target_for
    return brunel(N_NEURONS), target_for(N_NEURONS)


def _fanout():
    from bench.emulator_scale import IMAGES, ROOT as EROOT, network
    n, fan, target, _ = IMAGES["fanout100_100k"]
    return network(n, fan), os.path.join(EROOT, target)


#: image name -> network and target builder (both >= 10 M synapses, compiled with every pass and verifier)
IMAGES = {"brunel_100k": _brunel, "fanout100_100k": _fanout}


def build(name: str) -> Path:
    """Compile (every pass and verifier, sequential placer) and save image ``name`` (format version 2) unless
    cached."""
    from neuromap.image import FORMAT_VERSION
    from neuromap.network import network_hash
    from neuromap.toolchain import compile_network
    path = cache_dir() / f"{name}_v{FORMAT_VERSION}"
    net, target = IMAGES[name]()
    digest = f"{network_hash(net)} {target if isinstance(target, str) else target.name} v{FORMAT_VERSION}"
    stamp = path.parent / (path.name + ".json")
    if stamp.exists() and json.loads(stamp.read_text()).get("digest") == digest and path.exists():
        return path
    t = time.perf_counter()
    img = compile_network(net, target, placer="sequential").image
    seconds = time.perf_counter() - t
    img.save(path, force=True)
    stamp.write_text(json.dumps({"digest": digest, "compile_s": round(seconds, 1), "cores": int(img.n_cores),
                                 "chips": int(np.unique(img.cores["chip"]).size), "synapses": int(img.n_synapses),
                                 "neurons": int(img.n_neurons), "inputs": int(img.n_inputs)}))
    return path


def _digest(raw) -> str:
    h = hashlib.sha256()
    for a in (raw.spikes, raw.final_u, raw.final_v, raw.core_spikes, raw.link_spikes):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _results_file(name: str) -> Path:
    d = cache_dir() / "results"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{name}_{os.getpid()}.npz"


def worker_one(path: str, steps: int, threads: str, write: bool = False) -> dict:
    from emulator import emulate
    from neuromap.image import load_image
    img = load_image(path)
    rss_load = _rss_mb()
    emulate(img, 2, threads=None if threads == "default" else int(threads))    # numba's cached kernels loaded
    if threads == "default":      # the default may switch to T threads mid-run: load (or compile) that kernel too
        import numba
        emulate(img, 2, threads=max(1, int(numba.config.NUMBA_NUM_THREADS)))
    t = time.perf_counter()
    raw = emulate(img, steps, threads=None if threads == "default" else int(threads))
    wall = time.perf_counter() - t
    out = {"wall_s": wall, "ms_per_step": 1e3 * wall / steps, "digest": _digest(raw),
           "spikes": int(raw.spikes.shape[0]), "peak_rss_mb": round(_rss_mb(), 1),
           "rss_after_load_mb": round(rss_load, 1)}
    if write:                      # what `neuromap run -o` adds: the Results and the .npz written
        from backends.emulator import results_from_raw
        f = _results_file("one")
        t = time.perf_counter()
        results_from_raw(img, raw, "numba").save(f)
        out["write_s"] = time.perf_counter() - t
        out["peak_rss_with_write_mb"] = round(_rss_mb(), 1)
        f.unlink()
    return out


def worker_mpi(path: str, steps: int, results: str = "gathered", write: bool = False) -> dict | None:
    """One K-rank run: ``results`` ``gathered`` (rank 0 ends holding the whole run's RawRun) or ``per-rank``
    (every rank ends holding its part; with ``write`` the ranks then write their part files and rank 0 the index,
    timed apart as ``write_s``; the digest is taken from the parts merged after every measurement)."""
    from mpi4py import MPI

    from emulator import sharded
    comm = sharded.mpi_comm()
    sh = sharded.load_shard(path, comm.rank, comm.size)
    rss_load = _rss_mb()
    gather = results == "gathered"
    part, _ = sharded.emulate_shard(sh, 2, comm, gather=gather)             # numba's cached kernels loaded
    if not gather:
        from backends.emulator.parts import parts_dir, read_parts, write_rank_results
        f = Path(comm.allgather(str(_results_file("ranks")) if comm.rank == 0 else None)[0])
        write_rank_results(f if write else None, part, sh.image, "numba", 2, comm)     # and the writer's
        MPI.COMM_WORLD.Barrier()
        if write and comm.rank == 0:
            read_parts(f)
    MPI.COMM_WORLD.Barrier()
    t = time.perf_counter()
    raw, stats = sharded.emulate_shard(sh, steps, comm, gather=gather)
    MPI.COMM_WORLD.Barrier()
    wall = time.perf_counter() - t
    mine = {**{k: v for k, v in vars(stats).items()}, "peak_rss_mb": round(_rss_mb(), 1),
            "rss_after_load_mb": round(rss_load, 1)}
    out = {"wall_s": wall, "ms_per_step": 1e3 * wall / steps}
    if gather:
        ranks = comm.gather(mine)
        if comm.rank != 0:
            return None
        return {**out, "digest": _digest(raw), "spikes": int(raw.spikes.shape[0]), "ranks": ranks}
    t = time.perf_counter()
    write_rank_results(f if write else None, raw, sh.image, "numba", steps, comm)
    MPI.COMM_WORLD.Barrier()
    out["write_s"] = time.perf_counter() - t
    mine["peak_rss_with_write_mb"] = round(_rss_mb(), 1)
    parts = comm.gather(None if write else raw)
    ranks = comm.gather(mine)
    if comm.rank != 0:
        return None
    del raw
    if write:
        merged, _ = read_parts(f)
        f.unlink()
        for x in parts_dir(f).iterdir():
            x.unlink()
        parts_dir(f).rmdir()
    else:
        from emulator import _image_probe
        img = sh.image
        merged = sharded.merge_parts(parts, steps, img.n_neurons, img.n_cores, sharded.plastic_projections(img),
                                     _image_probe(img))
    return {**out, "digest": _digest(merged), "spikes": int(merged.spikes.shape[0]), "ranks": ranks}


def _run(cmd: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS", str(os.cpu_count()))}
    load = os.getloadavg()[0]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, cwd=ROOT)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd[:6])}...: exit {r.returncode}\n{r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["load_1min_before"] = round(load, 2)
    return out


def _mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else "mpiexec"


def run_image(name: str, steps: int, repeats: int, ks, over, write: bool = False, gathered: bool = True) -> dict:
    """One image: the one-process and K-rank runs of :data:`CONFIGS` (medians, speed-ups, per-rank costs)."""
    path = build(name)
    meta = json.loads((path.parent / (path.name + ".json")).read_text())
    py = [sys.executable, "-m", "bench.mpi_scaling"]
    w = ["--write"] if write else []
    main_cfg = [("one_1thread", py + ["--worker", "one", "--threads", "1"] + w)]
    main_cfg += [(f"mpi_{k}", [_mpiexec(), "-n", str(k)] + py + ["--worker", "mpi", "--results", "per-rank"] + w)
                 for k in ks if k > 1]
    main_cfg += [(f"mpi_{k}_gathered", [_mpiexec(), "-n", str(k)] + py + ["--worker", "mpi", "--results",
                                                                            "gathered"])
                 for k in ks if k > 1 and gathered]
    once = [("one_default_threads", py + ["--worker", "one", "--threads", "default"])]
    once += [(f"mpi_{k}", [_mpiexec(), "-n", str(k)] + py + ["--worker", "mpi"]) for k in ks if k == 1]
    once += [(f"mpi_{k}_oversubscribed", [_mpiexec(), "-n", str(k)] + py + ["--worker", "mpi"]) for k in over]
    runs: dict[str, list] = {c: [] for c, _ in main_cfg + once}
    todo = []
    for rep in range(repeats):                       # the main configurations alternate, each repeat reversed
        todo += main_cfg if rep % 2 == 0 else main_cfg[::-1]
    todo += once
    for cname, cmd in todo:
        runs[cname].append(_run(cmd + ["--path", str(path), "--steps", str(steps)]))
        print(f"  {name} {cname}: {runs[cname][-1]['ms_per_step']:.3f} ms/step "
              f"(load {runs[cname][-1]['load_1min_before']})", file=sys.stderr, flush=True)
    ref = runs["one_1thread"][0]["digest"]
    res = {"image": meta, "steps": steps,
           "bit_identical": all(r["digest"] == ref for rs in runs.values() for r in rs)}
    base = statistics.median(r["ms_per_step"] for r in runs["one_1thread"])
    for cname, rs in runs.items():
        ms = statistics.median(r["ms_per_step"] for r in rs)
        row = {"ms_per_step": round(ms, 3), "ms_per_step_runs": [round(r["ms_per_step"], 3) for r in rs],
               "speedup_vs_one_process_1thread": round(base / ms, 3),
               "load_1min_before_runs": [r["load_1min_before"] for r in rs]}
        if "write_s" in rs[0]:
            row["write_s"] = round(statistics.median(r["write_s"] for r in rs), 3)
            row["write_s_runs"] = [round(r["write_s"], 3) for r in rs]
        if "ranks" in rs[0]:
            per = []
            for k in range(len(rs[0]["ranks"])):
                rk = [r["ranks"][k] for r in rs]
                med = lambda key, rk=rk: statistics.median(x[key] for x in rk)  # noqa: E731
                per.append({"neurons": rk[0]["neurons"], "synapses": rk[0]["synapses"],
                            "deferred_synapses": rk[0]["deferred_synapses"], "exchange_every_steps": rk[0]["interval"],
                            "setup_s": round(med("setup_s"), 2),
                            "compute_ms_per_step": round(1e3 * med("compute_s") / steps, 3),
                            "deferred_ms_per_step": round(1e3 * med("deferred_s") / steps, 3),
                            "exchange_ms_per_step": round(1e3 * med("exchange_s") / steps, 3),
                            "bytes_sent_per_step": round(med("bytes_sent") / steps, 1),
                            "bytes_received_per_step": round(med("bytes_received") / steps, 1),
                            "exchanges_per_step": round(med("intervals") / steps, 4),
                            "finish_s": round(med("finish_s"), 2), "peak_rss_loop_mb": med("peak_rss_loop_mb"),
                            "program_mb": round(rk[0]["program_bytes"] / 2 ** 20, 1),
                            "rss_after_load_mb": med("rss_after_load_mb"), "peak_rss_mb": med("peak_rss_mb"),
                            **({"peak_rss_with_write_mb": med("peak_rss_with_write_mb")}
                               if "peak_rss_with_write_mb" in rk[0] else {}),
                            "phases_s": {p: round(statistics.median(x.get("phases", {}).get(p, 0.0) for x in rk), 3)
                                         for p in rk[0].get("phases", {})}})
            row["ranks"] = per
        else:
            row["rss_after_load_mb"] = statistics.median(r["rss_after_load_mb"] for r in rs)
            row["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in rs)
            if "peak_rss_with_write_mb" in rs[0]:
                row["peak_rss_with_write_mb"] = statistics.median(r["peak_rss_with_write_mb"] for r in rs)
        row["spikes"] = rs[0]["spikes"]
        res[cname] = row
    return res


def run(steps: int = STEPS, repeats: int = REPEATS, ks=(1, 2), over=(3, 4), quick: bool = False,
        names=tuple(IMAGES), write: bool = False, gathered: bool = True) -> dict:
    if quick:
        steps, repeats, over = 300, 1, ()
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
           "repeats": repeats}
    for name in names:
        out[name] = run_image(name, steps, repeats, ks, over, write, gathered)
    return out


def markdown(res: dict) -> str:
    lines = [f"# MPI strong scaling ({res['date']}, {res['cpus']} CPUs, medians of {res['repeats']} for "
             "one_1thread and mpi_2, alternating; the other rows one run)", ""]
    for name, r in res.items():
        if not isinstance(r, dict) or "image" not in r:
            continue
        im = r["image"]
        lines += [f"## {name}", "",
                  f"{im['neurons']} neurons, {im['inputs']} inputs, {im['synapses']} synapses, {im['cores']} cores on "
                  f"{im['chips']} chips (compiled in {im['compile_s']} s, image format version 2); {r['steps']} "
                  f"steps; every run bit-identical to one process: {r['bit_identical']}.", "",
                  "| run | ms/step | speed-up vs 1 process, 1 thread | runs (ms/step) | load (1 min) | "
                  "writing the results s (runs) |",
                  "|---|---|---|---|---|---|"]
        for cname, row in r.items():
            if isinstance(row, dict) and "ms_per_step" in row:
                lines.append(f"| {cname} | {row['ms_per_step']} | {row['speedup_vs_one_process_1thread']} | "
                             f"{row['ms_per_step_runs']} | {row['load_1min_before_runs']} | "
                             f"{row.get('write_s', '-')} {row.get('write_s_runs', '')} |")
        lines += ["", "| run | rank | neurons | synapses | deferred syn | exchange every | setup s | compute ms/step | "
                  "deferred ms/step | exchange ms/step | bytes sent/step | finish s | programs MB | "
                  "RSS after load MB | peak RSS in the loop MB | peak RSS MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for cname, row in r.items():
            for k, x in enumerate(row.get("ranks", []) if isinstance(row, dict) else []):
                lines.append(f"| {cname} | {k} | {x['neurons']} | {x['synapses']} | {x['deferred_synapses']} | "
                             f"{x['exchange_every_steps']} | {x['setup_s']} | {x['compute_ms_per_step']} | "
                             f"{x['deferred_ms_per_step']} | {x['exchange_ms_per_step']} | "
                             f"{x['bytes_sent_per_step']} | {x['finish_s']} | {x['program_mb']} | "
                             f"{x['rss_after_load_mb']} | {x['peak_rss_loop_mb']} | {x['peak_rss_mb']} |")
        for cname, row in r.items():
            for k, x in enumerate(row.get("ranks", []) if isinstance(row, dict) else []):
                if x.get("phases_s"):
                    lines.append(f"\n{cname} rank {k} set-up and finish phases (s): "
                                 + ", ".join(f"{p} {v}" for p, v in x["phases_s"].items()))
        for cname in ("one_1thread", "one_default_threads"):
            if cname in r:
                lines.append(f"\n{cname}: RSS after loading the image {r[cname]['rss_after_load_mb']} MB, "
                             f"peak {r[cname]['peak_rss_mb']} MB")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["one", "mpi"])
    ap.add_argument("--threads", default="1")
    ap.add_argument("--path")
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--ks", default="1,2")
    ap.add_argument("--over", default="3,4")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--out", default=NAME, help="results file name in bench/results (NAME.json, NAME.md)")
    ap.add_argument("--results", choices=["gathered", "per-rank"], default="per-rank",
                    help="worker mpi: how the run's results end (rank 0 gathers, or per rank)")
    ap.add_argument("--write", action="store_true",
                    help="also write the results file (timed apart: write_s), as `neuromap run -o` does")
    ap.add_argument("--no-gathered", action="store_true", help="skip the K-rank runs in the gathered mode")
    a = ap.parse_args(argv)
    if a.worker == "one":
        print(json.dumps(worker_one(a.path, a.steps, a.threads, a.write)))
        return
    if a.worker == "mpi":
        out = worker_mpi(a.path, a.steps, a.results, a.write)
        if out is not None:
            print(json.dumps(out))
        return
    names = [x for x in a.images.split(",") if x]
    if a.build_only:
        for name in names:
            print(build(name))
        return
    ints = lambda s: tuple(int(x) for x in s.split(",") if x)  # noqa: E731
    res = run(a.steps, a.repeats, ints(a.ks), ints(a.over), names=names, write=a.write, gathered=not a.no_gathered)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{a.out}.json").write_text(json.dumps(res, indent=1) + "\n")
    (OUT / f"{a.out}.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
