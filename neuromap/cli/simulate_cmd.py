"""``neuromap simulate NETWORK --steps N [-o out.npz] [--seed S]``: run the float reference simulator.

Loads a network file (YAML/JSON, docs/network-format.md), simulates ``N`` steps
of ``dt`` with :func:`neuromap.simulate` and prints, per population, its size,
spike count and mean rate (Hz = spikes / (size * N * dt / 1000)). ``-o`` writes
the spikes (and probed variables) as ``.npz``. ``--seed`` replaces the file's
seed (connectivity and inputs are drawn again).
"""
from __future__ import annotations

import os

import click
import numpy as np

from neuromap.errors import NeuromapError


@click.command("simulate")
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--steps", "-n", type=click.IntRange(min=1), required=True, help="Number of steps of dt to simulate.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write spikes and probed variables to this .npz file.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Replace the network's seed.")
def command(network: str, steps: int, output: str | None, seed: int | None) -> None:
    """Simulate NETWORK (a .yaml/.yml/.json network file) for --steps steps and print spike rates."""
    from neuromap.io import load_network

    net = load_network(network, seed=seed)
    if output is not None and not output.endswith(".npz"):
        raise NeuromapError(f"{output}: output must be a .npz file (use -o NAME.npz)")
    try:
        from neuromap import simulate
    except ImportError as e:  # pragma: no cover - only while the simulator is missing
        raise NeuromapError(f"the reference simulator is not available ({e}) (reinstall neuromap)") from None
    result = simulate(net, steps)
    seconds = steps * net.dt / 1000.0
    rows = []
    for pop in net.populations.values():
        count = int(np.count_nonzero(np.asarray(result.spikes(pop.name))))
        rows.append((pop.name, pop.model, pop.size, count, count / (pop.size * seconds)))
    width = max([len("population")] + [len(r[0]) for r in rows])
    click.echo(f"{net.name}: {steps} steps of {net.dt:g} ms ({seconds * 1000:g} ms simulated), seed {net.seed}")
    click.echo(f"{'population':<{width}}  {'model':<12} {'size':>7} {'spikes':>10} {'rate (Hz)':>10}")
    for name, model, size, count, rate in rows:
        click.echo(f"{name:<{width}}  {model:<12} {size:>7} {count:>10} {rate:>10.3f}")
    if output is not None:
        _save(result, net, output)
        click.echo(f"wrote {output}")


def _save(result, net, path: str) -> None:
    """Spikes as ``spikes/<pop>`` (bool[steps, size]) plus ``<pop>/<var>`` for probed variables; atomic."""
    arrays = {f"spikes/{p}": np.asarray(result.spikes(p)) for p in net.populations}
    for probe in net.probes:
        for var in probe.variables:
            if var != "spikes":
                arrays[f"{probe.population}/{var}"] = np.asarray(result.state(probe.population, var))
    tmp = f"{path}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
