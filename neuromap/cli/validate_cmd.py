"""``neuromap validate BUILD --steps N``: the emulator and Lava (fixed_pt) on the same image, step by step.

Exit 0 with ``identical: N steps, K spikes`` (K = neuron spikes); exit 1 with the first divergence
(step, population, neuron, both values); exit 2 for a bad image or a missing lava-nc.
"""
from __future__ import annotations

import click

from neuromap.cli import quiet_option
from neuromap.image import load_image
from neuromap.progress import bar


@click.command("validate")
@click.argument("build", type=click.Path(file_okay=False))
@click.option("--steps", type=click.IntRange(min=0), required=True, help="Number of time steps to run.")
@click.option("--engine", type=click.Choice(["numba", "numpy"]), default="numba", show_default=True,
              help="Emulator engine to compare against.")
@click.option("--probe-all", is_flag=True, help="Compare u and v of every neuron, not only the probed ones.")
@click.option("--weight-every", type=click.IntRange(min=1), default=10, show_default=True,
              help="Compare the weights of plastic projections every N steps (and after the last).")
@quiet_option
def command(build, steps, engine, probe_all, weight_every, quiet):
    """Run BUILD (a compiled image directory) on the emulator and in Lava and compare every step.

    \b
    Examples:
      neuromap validate build/ramp_frozen --steps 500
      neuromap validate build/port --steps 200 --probe-all --engine numpy
    """
    from neuromap.validate import validate_image

    img = load_image(build)
    with bar("lava + emulator (steps)", enabled=not quiet) as progress:
        line = validate_image(img, steps, engine=engine, probe_all=probe_all, progress=progress,
                              weight_every=weight_every)
    click.echo(line)
