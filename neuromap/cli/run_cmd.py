"""``neuromap run BUILD --backend emulator --steps N -o results.npz``: run a compiled image.

The emulator backend is bit-accurate to Lava 0.10.0 fixed_pt (docs/emulator.md);
``--engine`` picks its numba (default) or numpy time loop (same integers). The lava
backend runs the image as Lava processes (``Loihi2SimCfg(select_tag="fixed_pt")``,
docs/lava-backend.md; needs lava-nc). Prints spike counts per population and the final voltage of each
non-spiking readout population (NIR ``LI``/``CubaLI``, in float units); ``-o`` writes
the results file documented in :mod:`backends.emulator` (same layout for both backends);
``--json`` prints one JSON object instead (schema in docs/json.md).
"""
from __future__ import annotations

import json
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
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write results to this .npz.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (spike counts per population; docs/json.md).")
@quiet_option
def command(build: str, backend: str, steps: int, engine: str, threads: int | None, output: str | None,
            as_json: bool, quiet: bool) -> None:
    """Run the image directory BUILD for --steps steps.

    \b
    Examples:
      neuromap run build/ramp --steps 5000 -o ramp.npz
      neuromap run build/port --backend lava --steps 200
      neuromap run build/ramp --steps 1000 --json | jq .populations
    """
    import importlib

    if output is not None and not output.endswith(".npz"):
        raise NeuromapError(f"{output}: output must be a .npz file (use -o NAME.npz)")
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
    elapsed = time.perf_counter() - t0
    if output is not None:
        res.save(output)
    pops = [{"name": p.name, "size": p.size, "kind": p.kind, "spikes": int(res.spikes[p.name].shape[0]),
             "spikes_per_neuron_step": res.spikes[p.name].shape[0] / (max(p.size, 1) * steps)}
            for p in img.populations]
    readouts = {name: {"neurons": [int(i) for i in res.neurons[name]], "final_v": [float(x) for x in tr[-1]],
                       "argmax_final": int(np.argmax(tr[-1])) if tr.shape[1] else None}
                for name, tr in res.readout.items()}
    if as_json:
        click.echo(json.dumps({"build": str(build), "network": img.network_name, "target": img.target,
                               "backend": backend, "engine": engine if backend == "emulator" else None,
                               "steps": steps, "cores": img.n_cores, "populations": pops,
                               "inter_core_messages": int(res.link_spikes[:img.n_cores].sum()
                                                          - res.link_spikes[:img.n_cores].trace())
                               if res.link_spikes.size else 0,
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
