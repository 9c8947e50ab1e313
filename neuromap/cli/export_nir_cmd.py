"""``neuromap export-nir NETWORK -o net.nir``: write a network as a NIR graph (HDF5).

``lif`` -> CubaLIF, ``if`` -> IF, inputs -> Input, projections -> Linear/Affine (+ Delay);
plasticity, exact synapse lists and everything else NIR cannot express travel in the
neuromap extension (node metadata). Mapping and conventions: ``docs/nir.md``.
"""
from __future__ import annotations

import click

from neuromap.cli import allow_outside_option
from neuromap.errors import NeuromapError
from neuromap.io import load_network
from neuromap.nir_io import write_nir


@click.command("export-nir", epilog="Example: neuromap export-nir examples/brunel.yaml -o brunel.nir")
@allow_outside_option
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="NIR file to write (.nir).")
@click.option("--time-unit-ms", type=click.FloatRange(min=0, min_open=True), default=1000.0, show_default=True,
              help="Milliseconds per NIR time unit (1000: seconds, as snnTorch and Norse).")
def command(network: str, output: str, time_unit_ms: float) -> None:
    """Export NETWORK (.yaml/.yml/.json, .nir or module.py:function) to the NIR file -o F.nir."""
    if not output.endswith(".nir"):
        raise NeuromapError(f"{output}: output must be a .nir file (use -o NAME.nir)")
    net = load_network(network)
    write_nir(net, output, time_unit_ms=time_unit_ms)
    plastic = sum(p.plasticity is not None for p in net.projections)
    click.echo(f"{net.name}: {len(net.populations)} populations, {len(net.projections)} projections "
               f"({plastic} plastic), {sum(p.n_synapses for p in net.projections)} synapses -> {output}")
