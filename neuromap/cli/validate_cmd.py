"""``neuromap validate BUILD --steps N``: the emulator and Lava (fixed_pt) on the same image, step by step.

Exit 0 with ``identical: N steps, K spikes`` (K = neuron spikes); exit 1 with the first divergence
(step, population, neuron, both values); exit 2 for a bad image or a missing lava-nc. ``--json`` prints one
JSON object either way (schema in docs/json.md).
"""
from __future__ import annotations

import json
import time

import click

from neuromap.cli import quiet_option
from neuromap.errors import ValidationMismatch
from neuromap.image import load_image
from neuromap.progress import PhaseTimes, bar


@click.command("validate")
@click.argument("build", type=click.Path(file_okay=False))
@click.option("--steps", type=click.IntRange(min=0), required=True, help="Number of time steps to run.")
@click.option("--engine", type=click.Choice(["numba", "numpy"]), default="numba", show_default=True,
              help="Emulator engine to compare against.")
@click.option("--probe-all", is_flag=True, help="Compare u and v of every neuron, not only the probed ones.")
@click.option("--weight-every", type=click.IntRange(min=1), default=10, show_default=True,
              help="Compare the weights of plastic projections every N steps (and after the last).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (also on a mismatch; docs/json.md).")
@quiet_option
def command(build, steps, engine, probe_all, weight_every, as_json, quiet):
    """Run BUILD (a compiled image directory) on the emulator and in Lava and compare every step.

    \b
    Examples:
      neuromap validate build/ramp_frozen --steps 500
      neuromap validate build/port --steps 200 --probe-all --engine numpy
      neuromap validate build/port --steps 200 --json | jq .identical
    """
    # lazy: CLI start-up (`neuromap --help` imports every command module; the emulator and Lava runner ~0.2 s)
    from neuromap.validate import summary_line, validate_image_summary

    img = load_image(build)
    t0 = time.perf_counter()
    head = {"build": str(build), "network": img.network_name, "target": img.target, "engine": engine,
            "probe_all": probe_all, "requested_steps": steps}
    try:
        with bar("lava + emulator (steps)", enabled=not quiet) as progress:
            s = validate_image_summary(img, steps, engine=engine, probe_all=probe_all, progress=progress,
                                       weight_every=weight_every)
    except ValidationMismatch as e:
        if as_json:
            click.echo(json.dumps({**head, "identical": False, "message": str(e),
                                   "divergence": getattr(e, "divergence", None),
                                   "elapsed_s": time.perf_counter() - t0}))
        raise
    if as_json:
        click.echo(json.dumps({**head, "identical": True, **s, "elapsed_s": time.perf_counter() - t0}))
        return
    click.echo(summary_line(s))
    click.echo("  " + PhaseTimes.from_dict(s["time_split_s"]).line())
