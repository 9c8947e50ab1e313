"""``neuromap export-lava BUILD -o net_lava.py``: a standalone Lava 0.10.0 script rebuilding the image.

Writes the script and its arrays (``net_lava.npz`` next to it); see ``docs/lava-backend.md``.
"""
from __future__ import annotations

import click

from backends.lava.export import export_script
from neuromap.image import load_image


@click.command("export-lava")
@click.argument("build", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="net_lava.py", show_default=True,
              help="Script to write (its arrays go to the same name with .npz).")
@click.option("--steps", type=click.IntRange(min=1), default=100, show_default=True,
              help="Default number of steps the script runs (it takes --steps too).")
def command(build, output, steps):
    """Write a Python script that rebuilds BUILD (a compiled image directory) as Lava processes.

    \b
    Examples:
      neuromap export-lava build/port -o port_lava.py
      python port_lava.py --steps 500
    """
    script, npz = export_script(load_image(build), output, steps=steps)
    click.echo(f"wrote {script} and {npz}")
