"""``neuromap compile NETWORK --target loihi -o BUILD``: compile a network file into a hardware image.

Hardware-unit networks (``loihi_lif`` populations, integer weights) compile
without quantization; the image directory (docs/image-format.md) is written
atomically. Prints the image size (cores, neurons, axons, synapses).
"""
from __future__ import annotations

import click


@click.command("compile")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="loihi", show_default=True,
              help="Target name (built-in) or path to a target .toml file.")
@click.option("--output", "-o", type=click.Path(file_okay=False), required=True,
              help="Image directory to write (replaced if it is an image).")
def command(network: str, target: str, output: str) -> None:
    """Compile NETWORK (.yaml/.yml/.json) for --target into the image directory -o BUILD."""
    from neuromap.compiler import compile_network
    from neuromap.io import load_network

    net = load_network(network)
    img = compile_network(net, target=target)
    img.save(output)
    click.echo(f"{net.name}: {img.n_neurons} neurons, {img.n_inputs} inputs, {img.n_cores} cores, "
               f"{img.n_axons} axons, {img.n_synapses} synapses -> {output} (target {img.target})")
