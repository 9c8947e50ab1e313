"""``neuromap run BUILD --backend emulator --steps N -o results.npz``: run a compiled image.

The emulator backend is bit-accurate to Lava 0.10.0 fixed_pt (docs/emulator.md);
``--engine`` picks its numba (default) or numpy time loop (same integers). The lava
backend runs the image as Lava processes (``Loihi2SimCfg(select_tag="fixed_pt")``,
docs/lava-backend.md; needs lava-nc). Prints spike counts per population and the final voltage of each
non-spiking readout population (NIR ``LI``/``CubaLI``, in float units); ``-o`` writes
the results file documented in :mod:`backends.emulator` (same layout for both backends);
``--json`` prints one JSON object instead (schema in docs/json.md).

Under an MPI launcher (``mpiexec -n K neuromap run BUILD ...``) every rank emulates its chips
(:mod:`emulator.sharded`, docs/scale-out.md) and rank 0 prints: the same integers as one process. With ``-o``
every rank writes its own part of the results (``--results per-rank``, the default: ``NAME.npz`` indexes
``NAME.npz.parts/``, merged on read by every reader into the one-process results,
:mod:`backends.emulator.parts`), or rank 0 gathers everything and writes the one-process file
(``--results gathered``). ``--ranks K`` starts ``mpiexec -n K`` itself.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import click
import numpy as np

from neuromap.cli import quiet_option
from neuromap.errors import NeuromapError
from neuromap.image import load_image
from neuromap.progress import bar

#: backend name -> module with ``run(image, steps, **options) -> Results``
BACKENDS = {"emulator": "backends.emulator", "lava": "backends.lava.run"}


@click.command("run")
@click.argument("build", type=click.Path(file_okay=False))
@click.option("--backend", "-b", type=click.Choice(sorted(BACKENDS)), default="emulator", show_default=True)
@click.option("--steps", "-n", type=click.IntRange(min=1), required=True, help="Number of steps to run.")
@click.option("--engine", type=click.Choice(["numba", "numpy"]), default="numba", show_default=True,
              help="Emulator time loop (emulator backend only).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Emulator threads (numba engine, static images; default: 1, or all CPUs for >= 2M synapses "
                   "when measured faster during the run). Results do not depend on it.")
@click.option("--ranks", type=click.IntRange(min=1), default=None,
              help="Run on K MPI ranks (starts mpiexec -n K; emulator backend): each rank emulates a contiguous "
                   "set of chips. Same results as one process (docs/scale-out.md).")
@click.option("--results", "results_mode", type=click.Choice(["per-rank", "gathered"]), default="per-rank",
              show_default=True,
              help="MPI runs with -o: every rank writes its part (NAME.npz + NAME.npz.parts/, merged on read) or "
                   "rank 0 gathers the whole run into one file. Both read as the same results.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write results to this .npz.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (spike counts per population; docs/json.md).")
@quiet_option
def command(build: str, backend: str, steps: int, engine: str, threads: int | None, ranks: int | None,
            results_mode: str, output: str | None, as_json: bool, quiet: bool) -> None:
    """Run the image directory BUILD for --steps steps.

    \b
    Examples:
      neuromap run build/ramp --steps 5000 -o ramp.npz
      neuromap run build/port --backend lava --steps 200
      neuromap run build/ramp --steps 1000 --json | jq .populations
      neuromap run build/brunel --steps 1000 --ranks 2 -o brunel.npz
      mpiexec -n 4 neuromap run build/brunel --steps 1000 -o brunel.npz
    """
    import importlib

    if output is not None and not output.endswith(".npz"):
        raise NeuromapError(f"{output}: output must be a .npz file (use -o NAME.npz)")
    if (ranks is not None or _sharded()) and backend != "emulator":
        raise NeuromapError(f"--backend {backend}: MPI runs use the emulator backend (drop --ranks / mpiexec)")
    if ranks is not None and not _sharded():
        _launch(ranks, [build, "--steps", str(steps), "--engine", engine, "--results", results_mode]
                + (["-o", output] if output else []) + (["--json"] if as_json else [])
                + (["--quiet"] if quiet else []))
        return
    if _sharded():
        from backends.emulator import results_from_raw  # lazy: the MPI path only
        from backends.emulator.parts import write_rank_results  # lazy: the MPI path only
        from emulator import sharded  # lazy: the MPI path only

        comm = sharded.mpi_comm()
        t0 = time.perf_counter()
        try:
            show = not quiet and comm.rank == 0
            gathered = results_mode == "gathered"
            with bar(f"emulating on {comm.size} ranks (steps)", enabled=show) as progress:
                raw, img, _ = sharded.run_rank(build, steps, engine, progress=progress, comm=comm,
                                               load=sharded.load_shard, gather=gathered)
            summary = None if gathered else write_rank_results(output, raw, img, engine, steps, comm)
        except NeuromapError:
            if comm.rank != 0:      # every rank raised the same error: rank 0 prints it
                sys.exit(2)
            raise
        if comm.rank != 0:
            return
        how = f"emulator ({engine}, {comm.size} MPI ranks)"
        if gathered:
            res = results_from_raw(img, raw, engine, n_neurons=img.n_neurons)
            if output is not None:
                res.save(output)
            summary = _summary(res)
        _report(build, img, summary, steps, backend, engine, how, time.perf_counter() - t0, output, as_json)
        return
    img = load_image(build)
    mod = importlib.import_module(BACKENDS[backend])
    t0 = time.perf_counter()
    if backend == "emulator":
        with bar("emulating (steps)", enabled=not quiet) as progress:
            res = mod.run(img, steps, engine=engine, progress=progress, threads=threads)
        how = f"{backend} ({engine})"
    else:
        with bar("lava (steps)", enabled=not quiet) as progress:
            res, how = mod.run(img, steps, progress=progress), backend
    if output is not None:
        res.save(output)
    _report(build, img, _summary(res), steps, backend, engine, how, time.perf_counter() - t0, output, as_json)


def _sharded() -> bool:
    from emulator.sharded import launched_by_mpi  # lazy: keeps `neuromap --help` fast

    return launched_by_mpi()


def _launch(ranks: int, args: list[str]) -> None:
    """``mpiexec -n RANKS python -m neuromap run ARGS`` (the mpiexec beside this Python first: the venv's MPICH);
    exits with its code, with one line when a rank died."""
    here = os.path.dirname(sys.executable)
    mpiexec = shutil.which("mpiexec", path=here + os.pathsep + os.environ.get("PATH", ""))
    if mpiexec is None:
        raise NeuromapError("--ranks: mpiexec not found (install MPI: pip install 'neuromap[mpi]'; make install does)")
    rc = subprocess.call([mpiexec, "-n", str(ranks), sys.executable, "-m", "neuromap", "run", *args])
    if rc not in (0, 2):
        raise NeuromapError(f"the MPI run on {ranks} ranks stopped (mpiexec exit code {rc}: a rank died or was "
                            "killed; every rank was stopped)")
    if rc:
        sys.exit(rc)


def _summary(res) -> dict:
    """What :func:`_report` prints of a run's results (:func:`backends.emulator.parts.write_rank_results` builds
    the same from the ranks' parts)."""
    C = res.core_spikes.size
    return {"spikes": {name: int(s.shape[0]) for name, s in res.spikes.items()},
            "inter_core_messages": int(res.link_spikes[:C].sum() - res.link_spikes[:C].trace())
            if res.link_spikes.size else 0,
            "readouts": {name: (res.neurons[name], tr[-1]) for name, tr in res.readout.items()}}


def _report(build, img, summary, steps, backend, engine, how, elapsed, output, as_json) -> None:
    """Print the summary of a run (:func:`_summary`; the results were written to ``output``)."""
    pops = [{"name": p.name, "size": p.size, "kind": p.kind, "spikes": summary["spikes"][p.name],
             "spikes_per_neuron_step": summary["spikes"][p.name] / (max(p.size, 1) * steps)}
            for p in img.populations]
    readouts = {name: {"neurons": [int(i) for i in n], "final_v": [float(x) for x in last],
                       "argmax_final": int(np.argmax(last)) if last.size else None}
                for name, (n, last) in summary["readouts"].items()}
    if as_json:
        click.echo(json.dumps({"build": str(build), "network": img.network_name, "target": img.target,
                               "backend": backend, "engine": engine if backend == "emulator" else None,
                               "steps": steps, "cores": img.n_cores, "populations": pops,
                               "inter_core_messages": summary["inter_core_messages"],
                               "elapsed_s": elapsed, "output": output, "readouts": readouts}))
        return
    width = max([len("population")] + [len(p.name) for p in img.populations])
    click.echo(f"{img.network_name}: {steps} steps on {how}, {img.n_cores} cores ({elapsed:.2f} s)")
    click.echo(f"{'population':<{width}}  {'size':>7} {'spikes':>10}")
    for p in pops:
        click.echo(f"{p['name']:<{width}}  {p['size']:>7} {p['spikes']:>10}")
    for name, r in readouts.items():   # non-spiking readout cores: their voltage is the output
        vals = ", ".join(f"{x:.4g}" for x in r["final_v"][:8]) + (", ..." if len(r["final_v"]) > 8 else "")
        click.echo(f"readout {name}: v after step {steps} (float units) [{vals}], largest: neuron "
                   f"{r['argmax_final']}")
    if output is not None:
        click.echo(f"wrote {output}")
