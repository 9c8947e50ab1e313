"""``neuromap report BUILD [--results R] [--network N] -o report.html``: one self-contained HTML page.

The page (:mod:`neuromap.report_html`) needs no server or network access (figures inlined as base64
PNG): what the mapping gives next to sequential fill, core utilization per resource, the mesh with
per-link load, the quantization table with weight histograms, float-vs-chip rates and a raster.
``--json`` prints the summary (as ``inspect --json`` plus ``rates``, ``output``, ``figures``).
"""
from __future__ import annotations

import json

import click

from neuromap.cli import quiet_option
from neuromap.errors import NeuromapError
from neuromap.progress import bar
from neuromap.report_html import write_report


@click.command("report")
@click.argument("build", type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="HTML file to write.")
@click.option("--results", "-r", type=click.Path(dir_okay=False), default=None,
              help="Results .npz of `neuromap run -o` (measured link load, rates, raster).")
@click.option("--network", "-n", default=None,
              help="The source network (.yaml/.json/.nir or module.py:function): float reference rates and "
                   "weight histograms.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the report's numbers).")
@quiet_option
def command(build: str, output: str, results: str | None, network: str | None, as_json: bool, quiet: bool) -> None:
    """Write a self-contained HTML report about the image BUILD to -o FILE.html.

    \b
    Examples:
      neuromap report build/ -o report.html
      neuromap report build/ --results run.npz --network net.yaml -o report.html
    """
    if not output.endswith((".html", ".htm")):
        raise NeuromapError(f"{output}: output must be an .html file (use -o NAME.html)")
    with bar("report (float reference steps)", enabled=not quiet and not as_json) as progress:
        summary = write_report(build, output, results=results, network=network, progress=progress)
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"wrote {output} ({summary['figures']} figures)")
