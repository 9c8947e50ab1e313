"""The Potjans & Diesmann (2014) cortical microcircuit (examples/microcircuit.py): per-population rates of
the float reference, of the compiled image on the emulator and of NEST 3.10 on the same parameters,
against the published full-scale rates; compile and run costs (issue 16, item 6).

Sides, each in its own subprocess (peak RSS its own), run one after the other:

* ``float``: ``neuromap.simulate`` of the network (numba backend);
* ``emulator``: ``compile_network`` for the board target ``examples/targets/loihi_microcircuit.toml``
  (placer ``sequential``) and ``Image.save`` in one process (``image``), then ``load_image``,
  ``emulator.program.prepare_runs`` and ``emulator.emulate`` of the program (the image released before the run;
  neurons' spikes recorded, input events counted) in another (``emulator``): compile and run never share a
  process, so the end-to-end peak is the larger of the two peaks (``peak_end_to_end_mb``);
* ``nest``: NEST's own construction of the model (``iaf_psc_exp``, ``fixed_total_number`` with multapses,
  redrawn normal weights and delays, one ``poisson_generator`` per population), the parameters of NEST's
  ``Potjans_2014`` example with the same ``scale``, one thread.

Rates are mean spikes/s per population over ``ms`` after the first ``SKIP_MS`` (initial transient).
Emulator: ``load_s`` (image directory -> memory, checksums and verifier), ``prepare_s`` (image -> program with its
delivery runs, once), then steps/s, synaptic events per second (spikes x fan-out over the run, inputs included)
and the real-time factor (run wall time / network time) of the run alone.
``python -m bench.microcircuit [--quick] [--scale S] [--sides emulator] [--rss-limit-gb 16] [--image DIR]
[--out NAME]``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

NAME = "microcircuit"
DESCRIPTION = ("Potjans & Diesmann (2014) microcircuit at scale 0.1: rates of float reference, emulator (compiled "
               "for examples/targets/loihi_microcircuit.toml) and NEST 3.10 vs published; compile/run costs.")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TARGET = os.path.join(ROOT, "examples", "targets", "loihi_microcircuit.toml")
SKIP_MS = 200.0


def _peak_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _example():
    sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]
    import microcircuit
    return microcircuit


def side_float(cfg: dict) -> dict:
    m = _example()
    import neuromap
    t0 = time.perf_counter()
    net = m.build(cfg["scale"])
    t1 = time.perf_counter()
    steps = int(round(cfg["ms"] / net.dt))
    res = neuromap.simulate(net, steps)
    t2 = time.perf_counter()
    sizes = [net.populations[p].size for p in m.POPS]
    return dict(build_s=t1 - t0, run_s=t2 - t1, peak_mb=_peak_mb(),
                synapses=sum(p.n_synapses for p in net.projections),
                rates=m.rates(res.spikes, sizes, steps, net.dt, SKIP_MS).tolist())


def side_image(cfg: dict) -> dict:
    """The emulator side's compile, in a process of its own: build the network, compile it for the board target
    (placer ``sequential``) and save the image to ``cfg["image"]``; the emulator side loads it in another
    process, so the end-to-end peak is the larger of the two, not their sum."""
    if cfg.get("rss_limit_gb"):
        _rss_watchdog(float(cfg["rss_limit_gb"]))
    m = _example()
    from neuromap.targets import load_target
    from neuromap.toolchain import compile_network
    t0 = time.perf_counter()
    net = m.build(cfg["scale"])
    t1 = time.perf_counter()
    img = compile_network(net, load_target(TARGET), placer="sequential", rate_check="never").image
    t2 = time.perf_counter()
    img.save(cfg["image"], force=True)
    t3 = time.perf_counter()
    return dict(build_s=t1 - t0, compile_s=t2 - t1, save_s=t3 - t2, peak_compile_mb=_peak_mb(), dt=net.dt,
                steps=int(round(cfg["ms"] / net.dt)), synapses=sum(p.n_synapses for p in net.projections))


def side_emulator(cfg: dict) -> dict:
    """Load the image :func:`side_image` saved, prepare the numba engine's program (``prepare_runs``: delivery
    runs straight from the image's arrays), release the image, run ``cfg["steps"]`` steps recording the neurons'
    spikes (``record_inputs=False``: the Poisson input events, most rows at large scale, are counted by replaying
    their stream after the run, not stored) without per-link counters (``link_counters=False``: the (C+1) x C
    table alone is 7 GB at scale 0.5)."""
    if cfg.get("rss_limit_gb"):
        _rss_watchdog(float(cfg["rss_limit_gb"]))
    m = _example()
    import numba
    import numpy as np

    from emulator import emulate
    from emulator.program import prepare_runs
    from neuromap.image import load_image
    steps = int(cfg["steps"])
    t0 = time.perf_counter()
    img = load_image(cfg["image"])
    t1 = time.perf_counter()
    peak_load = _peak_mb()
    prog = prepare_runs(img)                               # what emulate(img) does first, timed apart
    t2 = time.perf_counter()
    peak_prepare = _peak_mb()
    pops = [(img.population(p).start, img.population(p).size) for p in m.POPS]
    chips = int(img.cores["chip"].max()) + 1 if "chip" in img.cores else None
    cores, synapses = int(img.n_cores), int(img.n_synapses)
    del img                                                # the program holds what the run reads
    lean = dict(record_inputs=False, link_counters=False)
    emulate(prog, 10, **lean)                              # numba's cache -> memory (not timed), and the
    # T-thread kernel the default may switch to mid-run (compiled inside the timed run after a cache clear,
    # it made the run 29 s instead of 1.3 s)
    emulate(prog, 10, threads=max(1, int(numba.config.NUMBA_NUM_THREADS)), **lean)
    t3 = time.perf_counter()
    run = emulate(prog, steps, **lean)
    t4 = time.perf_counter()
    fan = np.diff(prog.run_syn[prog.run_ptr])              # synapses each source's spike reaches
    n_events = int(fan[run.spikes[:, 1]].sum()) + _input_events(prog, steps, fan)
    spikes = run.spikes
    rates = m.rates({p: (spikes[(spikes[:, 1] >= lo) & (spikes[:, 1] < lo + n), 0], None)
                     for p, (lo, n) in zip(m.POPS, pops)}, [n for _, n in pops], steps, cfg["dt"], SKIP_MS)
    return dict(load_s=t1 - t0, prepare_s=t2 - t1, run_s=t4 - t3, peak_load_mb=peak_load,
                peak_prepare_mb=peak_prepare, peak_mb=_peak_mb(), cores=cores, chips=chips, image_synapses=synapses,
                steps=steps, neuron_spikes=int(spikes.shape[0]), synaptic_events=n_events, rates=rates.tolist())


def _input_events(prog, steps: int, fan) -> int:
    """Synapses reached by the input events of a run of ``steps`` steps: the inputs' stream replayed
    (:class:`emulator.inputs.InputSchedule`, the one the run drew) times each input's fan-out."""
    from emulator.inputs import InputSchedule
    sched, total, n = InputSchedule(prog), 0, prog.n_neurons
    for t0 in range(0, steps, 1000):
        _, ids = sched.chunk(t0, min(1000, steps - t0))
        total += int(fan[n + ids].sum())
    return total


def side_nest(cfg: dict) -> dict:
    m = _example()
    import nest
    import numpy as np
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    dt = 0.1
    nest.SetKernelStatus({"resolution": dt, "local_num_threads": 1, "rng_seed": 55, "print_time": False})
    par = m.parameters(cfg["scale"])
    sizes = par["sizes"]
    t0 = time.perf_counter()
    pops, recs = [], []
    for i in range(8):
        p = nest.Create("iaf_psc_exp", int(sizes[i]), params={
            "C_m": m.C_M, "tau_m": m.TAU_M, "tau_syn_ex": m.TAU_SYN, "tau_syn_in": m.TAU_SYN, "t_ref": m.T_REF,
            "E_L": -65.0, "V_reset": -65.0, "V_th": -50.0, "I_e": float(par["dc_pa"][i])})
        p.V_m = nest.random.normal(mean=m.V0_MEAN[i] - 65.0, std=m.V0_SD[i])
        r = nest.Create("spike_recorder")
        nest.Connect(p, r)
        pops.append(p)
        recs.append(r)
    total = np.round(m.full_synapses() * par["scale"] * par["k_scale"]).astype(int)
    for i in range(8):
        for j in range(8):
            if total[i, j] <= 0:
                continue
            w = float(par["weight_pa"][i, j])
            d = m.DELAY_E if j % 2 == 0 else m.DELAY_I
            wd = nest.math.redraw(nest.random.normal(mean=w, std=abs(w) * m.PSP_SD),
                                  min=0.0 if w > 0 else -np.inf, max=np.inf if w > 0 else 0.0)
            dd = nest.math.redraw(nest.random.normal(mean=d, std=d * m.DELAY_REL_SD), min=dt, max=np.inf)
            nest.Connect(pops[j], pops[i], {"rule": "fixed_total_number", "N": int(total[i, j])},
                         {"synapse_model": "static_synapse", "weight": wd, "delay": dd})
    for i in range(8):
        pg = nest.Create("poisson_generator", params={"rate": float(par["ext_rate_hz"][i])})
        nest.Connect(pg, pops[i], "all_to_all", {"weight": float(par["psc_ext_pa"]), "delay": m.POISSON_DELAY})
    nest.Prepare()
    nest.Cleanup()
    t1 = time.perf_counter()
    nest.Simulate(cfg["ms"])
    t2 = time.perf_counter()
    rates = []
    secs = (cfg["ms"] - SKIP_MS) / 1000.0
    for i in range(8):
        times = np.asarray(recs[i].get("events")["times"])
        rates.append(float(np.count_nonzero(times > SKIP_MS)) / (int(sizes[i]) * secs))
    return dict(build_s=t1 - t0, run_s=t2 - t1, peak_mb=_peak_mb(), synapses=int(total.sum()), rates=rates,
                version=nest.__version__)


def side_compile(cfg: dict) -> dict:
    """Compile only (issue 16 item 6, the compile goal): build the network at ``cfg["scale"]``, compile it
    for the board target through every pass and verifier (placer ``sequential``) and save the image; wall
    time per pass and verifier, peak RSS of the process (imports included), bytes per synapse, and the statistics of
    the fan-in and fan-out legalizations (``relays``: relay neurons and synapses added, neurons split)."""
    import resource
    import shutil
    import tempfile
    if cfg.get("rss_limit_gb"):
        _rss_watchdog(float(cfg["rss_limit_gb"]))
    m = _example()
    from neuromap.targets import load_target
    from neuromap.toolchain import compile_network
    target = load_target(TARGET)
    if cfg.get("chips_y"):       # a taller board (same chips and mesh per chip): full scale needs > 768 chips
        target = dataclasses.replace(target, mesh=dataclasses.replace(target.mesh, chips_y=int(cfg["chips_y"])))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    net = m.build(cfg["scale"])
    t1 = time.perf_counter()
    rss_net = _peak_mb()
    synapses = sum(p.n_synapses for p in net.projections)
    # the compile takes the network over: its float projections are freed once quantized (release_input)
    res = compile_network(net, target, placer="sequential", rate_check="never", release_input=True)
    t2 = time.perf_counter()
    img = res.image
    out = tempfile.mkdtemp(prefix="nm_mc.")
    try:
        img.save(os.path.join(out, "img"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    t3 = time.perf_counter()
    phases, peaks, stats = {}, {}, {}
    for r in res.passes:
        if r.name in ("legalize_fan_in", "legalize_fan_out"):    # relay neurons and synapses the passes added
            stats[r.name] = {s.name: s.value for s in r.statistics}
        phases[r.name] = round(r.wall_s, 2)
        peaks[r.name] = round(r.peak_rss_bytes / 2 ** 20)     # ru_maxrss after the pass and its verifier
        if r.kind == "pass":
            phases["verify " + r.name] = round(r.verify_s, 2)
    peak = _peak_mb()
    return dict(neurons=int(img.n_neurons), synapses=int(synapses), image_synapses=int(img.n_synapses),
                cores=int(img.n_cores), chips=int(img.cores["chip"].max()) + 1, build_s=t1 - t0, compile_s=t2 - t1,
                save_s=t3 - t2, phases_s=phases, peak_mb_after_pass=peaks, relays=stats,
                rss_after_import_mb=rss0 / 1024.0, peak_after_build_mb=rss_net,
                peak_mb=peak, bytes_per_synapse=peak * 2 ** 20 / synapses,
                s_per_M_synapses=(t3 - t1) / (synapses / 1e6))


def _rss_watchdog(limit_gb: float) -> None:
    """Exit this process (code 3, one line on stderr) as soon as its resident set passes ``limit_gb``: a
    compile too big for the machine stops before the kernel's OOM killer picks a process (the machine is
    shared). The line names the main thread's innermost frames (where the memory went). The watchdog is a
    Python thread: compiled code that holds the GIL delays it (scale 1.0 on 2026-12-08: stopped at 16 GiB,
    peak 17.75 GiB), so set the limit ~2 GiB below what must not be passed."""
    import threading
    import traceback
    page = os.sysconf("SC_PAGE_SIZE")
    main = threading.main_thread().ident

    def where() -> str:
        frame = sys._current_frames().get(main)
        stack = traceback.extract_stack(frame)[-5:] if frame is not None else []
        return " < ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in reversed(stack))

    def watch():
        while True:
            with open("/proc/self/statm") as fh:
                rss = int(fh.read().split()[1]) * page
            if rss > limit_gb * 2 ** 30:
                sys.stderr.write(f"resident set passed {limit_gb:g} GiB: stopped (--rss-limit-gb) in {where()}\n")
                sys.stderr.flush()
                os._exit(3)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


SIDES = {"float": side_float, "image": side_image, "emulator": side_emulator, "nest": side_nest,
         "compile": side_compile}


def run_compile(scales: list[float], rss_limit_gb: float | None = None, chips_y: int | None = None) -> dict:
    """``--compile-only``: :func:`side_compile` at each scale, one subprocess each under the heavy lock
    (bench/results/microcircuit_compile.json); ``rss_limit_gb``: stop a compile whose resident set passes it;
    ``chips_y``: the board target with that many rows of chips (24: 768 chips; the full scale needs ~830).
    A row that stopped (``error``) records ``children_peak_mb``: the largest peak RSS of the compiles run so far."""
    import resource

    from bench.float_reference import heavy_lock
    rows = []
    for sc in scales:
        with heavy_lock():
            load = os.getloadavg()[0]
            r = _subprocess("compile", dict(scale=sc, ms=0.0, rss_limit_gb=rss_limit_gb, chips_y=chips_y))
        if "error" in r:
            r["children_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        r.update(scale=sc, load_before=round(load, 2), **({"chips_y": chips_y} if chips_y else {}))
        rows.append({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
        print(json.dumps(rows[-1]), flush=True)
    return {"rows": rows, "target": os.path.relpath(TARGET, ROOT), "placer": "sequential",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _subprocess(side: str, cfg: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "bench.microcircuit", "--side", side, json.dumps(cfg)]
    out = subprocess.run(cmd,
                         capture_output=True, text=True, env=env, timeout=7200, cwd=ROOT)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False, scale: float = 0.1, sides: tuple[str, ...] | None = None,
        rss_limit_gb: float | None = None, image: str | None = None) -> dict:
    """The sides at ``scale`` under the heavy lock, one subprocess each (the emulator side as two: compile and
    save the image, then load and run it: peak RSS of each, the end-to-end peak their maximum); ``sides``:
    a subset of float, emulator, nest (default: all, nest where installed); ``rss_limit_gb``: stop a side
    whose resident set passes it (exit 3); ``image``: a directory for the emulator side's image, kept after the run
    and, when it already holds an image (compiled at this ``scale``), loaded without compiling (compile and run
    then fit two heavy-lock slots)."""
    import shutil
    import tempfile

    from bench.float_reference import heavy_lock, nest_available
    m = _example()
    cfg = dict(scale=scale, ms=400.0 if quick else 1200.0, rss_limit_gb=rss_limit_gb)
    out = {"scale": scale, "ms": cfg["ms"], "skip_ms": SKIP_MS, "populations": list(m.POPS),
           "published_hz": m.PUBLISHED_RATES.tolist(), "nest_full_scale_hz": m.FULL_MEAN_RATES.tolist()}
    if sides is None:
        sides = ("float", "emulator") + (("nest",) if nest_available() else ())
    with heavy_lock():
        for side in sides:
            load = os.getloadavg()[0]
            if side == "emulator":
                tmp = None if image else tempfile.mkdtemp(prefix="nm_mc_img.")
                where = image or os.path.join(tmp, "img")
                try:
                    if image and os.path.exists(os.path.join(image, "manifest.json")):
                        r = dict(image_reused=image, dt=0.1, steps=int(round(cfg["ms"] / 0.1)))   # build()'s dt
                    else:
                        r = _subprocess("image", dict(cfg, image=where))
                    if "error" not in r:
                        r.update(_subprocess("emulator", dict(cfg, image=where, steps=r["steps"], dt=r["dt"])))
                finally:
                    if tmp:
                        shutil.rmtree(tmp, ignore_errors=True)
                if "peak_mb" in r and "peak_compile_mb" in r:
                    r["peak_end_to_end_mb"] = max(r["peak_compile_mb"], r["peak_mb"])
            else:
                r = _subprocess(side, cfg)
            r["load_before"] = round(load, 2)
            if "rates" in r:
                r["rates"] = [round(x, 3) for x in r["rates"]]
            out[side] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items() if v is not None}
            print(json.dumps({side: out[side]}), file=sys.stderr, flush=True)
    emu = out.get("emulator", {})
    if "run_s" in emu:
        out["emulator_steps_per_s"] = round(emu["steps"] / emu["run_s"], 1)
        out["emulator_synaptic_events_per_s"] = round(emu["synaptic_events"] / emu["run_s"])
        out["emulator_real_time_factor"] = round(emu["run_s"] / (cfg["ms"] / 1000.0), 2)
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _parse_args(argv: list[str]):
    """The command line (``python -m bench.microcircuit --help``); an unknown option is an error, not ignored."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m bench.microcircuit", description=(
        "The Potjans-Diesmann microcircuit: end to end (float reference and emulator) or --compile-only; "
        "results JSON on stdout and, with --out, in bench/results/NAME.json."))
    ap.add_argument("--compile-only", action="store_true",
                    help="compile (and save) only, at every scale of --scale; peak RSS per pass")
    ap.add_argument("--scale", default=None,
                    help="network scale (neurons and in-degrees); with --compile-only a comma list (default 0.1)")
    ap.add_argument("--rss-limit-gb", type=float, default=None,
                    help="stop a child past this resident size (GiB; the watchdog may overshoot by ~2 GiB)")
    ap.add_argument("--chips-y", type=int, default=None,
                    help="--compile-only: the board target with this many rows of chips (full scale needs 28)")
    ap.add_argument("--quick", action="store_true", help="end to end: a shorter run (0.4 s of network time)")
    ap.add_argument("--sides", default=None, help="end to end: comma list of sides to run (e.g. emulator)")
    ap.add_argument("--image", default=None, help="end to end: compile into / reuse the image in this directory")
    ap.add_argument("--out", default=None, help="also write bench/results/OUT.json")
    a = ap.parse_args(argv)
    if a.compile_only:
        for opt in ("quick", "sides", "image"):
            if getattr(a, opt):
                ap.error(f"--{opt} applies to the end-to-end run, not --compile-only")
    elif a.chips_y is not None:
        ap.error("--chips-y applies to --compile-only")
    return a


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--side":      # the child process of one side (internal)
        print(json.dumps(SIDES[sys.argv[2]](json.loads(sys.argv[3]))))
    else:
        args = _parse_args(sys.argv[1:])
        if args.compile_only:
            scales = [float(x) for x in (args.scale or "0.1").split(",")]
            res = run_compile(scales, args.rss_limit_gb, args.chips_y)
            out_name = args.out or "microcircuit_compile"
        else:
            sd = tuple(args.sides.split(",")) if args.sides else None
            res = run(quick=args.quick, scale=float(args.scale or 0.1), sides=sd,
                      rss_limit_gb=args.rss_limit_gb, image=args.image)
            out_name = args.out
        if out_name:
            with open(os.path.join(ROOT, "bench", "results", out_name + ".json"), "w") as fh:
                fh.write(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res, indent=1))
