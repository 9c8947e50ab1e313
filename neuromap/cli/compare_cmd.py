"""``neuromap compare NETWORK --target T --steps N [--json]``: float reference vs compiled network (emulator).

Both runs see the same input spikes (both draw the one documented Poisson stream, see
:mod:`neuromap.compare`); the compile's own reports (quantization, fan-in) are reported as the
compiler returned them, nothing is quantized again. Prints per population the
mean rates, the relative rate error and the correlation of per-neuron spike counts,
and for plastic projections the final weight error; ``--json`` prints the whole
report (including the quantization and fan-in reports) as JSON.
"""
from __future__ import annotations

import json

import click

from neuromap.cli import allow_outside_option
from neuromap.cli.nir_options import load_network_cli, nir_options
from neuromap.compare import compare, format_report
from neuromap.errors import TargetError
from neuromap.targets import load_target


def print_problems(e: TargetError) -> None:
    """Every problem of a compatibility TargetError on stderr, one per line (the error line follows)."""
    for p in getattr(e, "problems", []):
        click.echo(f"  {p}", err=True)


@click.command("compare")
@allow_outside_option
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="loihi", show_default=True,
              help="Target name (built-in) or path to a target .toml file.")
@click.option("--steps", "-n", type=click.IntRange(min=1), required=True, help="Steps of dt to run.")
@click.option("--engine", type=click.Choice(["numba", "numpy"]), default="numba", show_default=True,
              help="Emulator engine.")
@click.option("--freeze", is_flag=True, help="Run the float reference without plasticity too (quantization only).")
@click.option("--allow-reset-approximation", is_flag=True,
              help="Compile populations with reset: subtract as reset-to-v_reset (as compile does); the report "
                   "then measures that loss too.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@nir_options
def command(network: str, target: str, steps: int, engine: str, freeze: bool, allow_reset_approximation: bool,
            as_json: bool, nir_kwargs: dict) -> None:
    """Compare the float reference and the compiled NETWORK on the emulator for --steps steps.

    \b
    Examples:
      neuromap compare examples/ramp_lif.yaml --target loihi --steps 5000
      neuromap compare examples/ramp_lif.yaml --steps 2000 --freeze --json
      neuromap compare net.yaml --target mychip.toml --steps 2000
    """
    tgt = load_target(target)
    net = load_network_cli(network, nir_kwargs=nir_kwargs)
    try:
        rep = compare(net, tgt, steps, engine=engine, freeze_plasticity=freeze,
                      allow_reset_approximation=allow_reset_approximation)
    except TargetError as e:
        print_problems(e)
        raise
    if as_json:
        click.echo(json.dumps(rep.to_dict(), indent=1))
    else:
        click.echo(format_report(rep))
