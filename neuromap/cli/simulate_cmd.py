"""``neuromap simulate NETWORK --steps N [-o out.npz] [--seed S]``: run the float reference simulator.

Loads a network file (YAML/JSON, docs/network-format.md), simulates ``N`` steps
of ``dt`` with :func:`neuromap.simulate` and prints, per population, its size,
spike count and mean rate (Hz = spikes / (size * N * dt / 1000)). ``-o`` writes
spikes, probed variables and final weights as ``.npz`` (keys in :func:`save_result`).
``--seed`` replaces the file's seed: connectivity and inputs are drawn again.
"""
from __future__ import annotations

import json
import os

import click
import numpy as np

from neuromap.cli import allow_outside_option, quiet_option
from neuromap.cli.nir_options import load_network_cli, nir_options
from neuromap.errors import NeuromapError
from neuromap.progress import bar


@click.command("simulate")
@allow_outside_option
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--steps", "-n", type=click.IntRange(min=1), required=True, help="Number of steps of dt to simulate.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write spikes and probed variables to this .npz file.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Replace the network's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (rates per population; docs/json.md).")
@nir_options
@quiet_option
def command(network: str, steps: int, output: str | None, seed: int | None, as_json: bool, quiet: bool,
            nir_kwargs: dict) -> None:
    """Simulate NETWORK (a .yaml/.yml/.json network file) for --steps steps and print spike rates.

    \b
    Examples:
      neuromap simulate examples/ramp_lif.yaml --steps 5000
      neuromap simulate examples/balanced_ei.yaml --steps 2000 --seed 2 -o balanced.npz
      neuromap simulate snn.nir --steps 2000 --nir-convention snntorch --input-spikes in.npy
    """
    if output is not None and not output.endswith(".npz"):
        raise NeuromapError(f"{output}: output must be a .npz file (use -o NAME.npz)")
    net = load_network_cli(network, seed=seed, nir_kwargs=nir_kwargs)
    from neuromap.simulator import simulate  # lazy: the CLI starts fast, and errors above need no simulator

    with bar("simulating (steps)", enabled=not quiet) as progress:
        result = simulate(net, steps, progress=progress)
    seconds = steps * net.dt / 1000.0
    rows = []
    for pop in net.populations.values():
        count = int(result.spikes[pop.name][0].shape[0])
        rows.append((pop.name, pop.model, pop.size, count, count / (pop.size * seconds)))
    if output is not None:
        save_result(result, output)
    if as_json:
        click.echo(json.dumps({"network": net.name, "steps": steps, "dt_ms": net.dt, "seed": net.seed,
                               "synapses": sum(p.n_synapses for p in net.projections), "backend": result.backend,
                               "populations": [{"name": n, "model": m, "size": z, "spikes": c, "rate_hz": r}
                                               for n, m, z, c, r in rows], "output": output}))
        return
    width = max([len("population")] + [len(r[0]) for r in rows])
    click.echo(f"{net.name}: {steps} steps of {net.dt:g} ms ({seconds:g} s simulated), seed {net.seed}, "
               f"{sum(p.n_synapses for p in net.projections)} synapses, {result.backend} backend")
    click.echo(f"{'population':<{width}}  {'model':<12} {'size':>7} {'spikes':>10} {'rate (Hz)':>10}")
    for name, model, size, count, rate in rows:
        click.echo(f"{name:<{width}}  {model:<12} {size:>7} {count:>10} {rate:>10.3f}")
    if output is not None:
        click.echo(f"wrote {output}")


def save_result(result, path: str) -> None:
    """Write a SimResult as ``.npz`` (atomically). Keys: ``steps``, ``dt``;
    ``spikes.<pop>.step`` / ``spikes.<pop>.index`` (int64, one entry per spike, sorted by step);
    ``trace.<pop>.<var>`` (float64[steps, n]) with ``trace.<pop>.neurons``; ``weight.<projection>``
    (final weights, aligned with the projection's synapse arrays)."""
    arrays = {"steps": np.int64(result.steps), "dt": np.float64(result.dt)}
    for pop, (step, idx) in result.spikes.items():
        arrays[f"spikes.{pop}.step"], arrays[f"spikes.{pop}.index"] = step, idx
    for pop, variables in result.traces.items():
        for var, values in variables.items():
            arrays[f"trace.{pop}.{var}"] = values
        if pop in result.trace_neurons:
            arrays[f"trace.{pop}.neurons"] = result.trace_neurons[pop]
    for proj, w in result.weights.items():
        arrays[f"weight.{proj}"] = w
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
