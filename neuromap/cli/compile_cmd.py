"""``neuromap compile NETWORK --target loihi -o BUILD``: compile a network file into a hardware image.

The image directory (docs/image-format.md) is written atomically. Placement
(docs/placement.md): ``--placer`` sequential | greedy | tiles | cpsat (default), ``--time-limit``
SECONDS of wall time for the whole placement (default: scaled with the synapse count),
``--deterministic`` (the limit is in work units instead -- CP-SAT deterministic time, about one
second of one core each -- and the result is the same on every run), ``--seed``, ``--link-slack`` (extra hop-weighted
traffic
allowed, as a fraction, to lower the busiest link), ``--rates`` uniform | auto | FILE (auto: a
200-step run of the core emulator estimates spikes per step of every neuron; FILE: user rates
per population or neuron, format in docs/placement.md). Prints
the image size and a placement summary; ``--json`` prints one JSON object instead.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from neuromap.cli import allow_outside_option, quiet_option
from neuromap.cli.nir_options import load_network_cli, nir_options
from neuromap.compiler.fidelity import enforce
from neuromap.compiler.place import PlacementSummary
from neuromap.conv_geometry import memory_line, memory_report
from neuromap.image_files import check_replaceable
from neuromap.progress import bar
from neuromap.toolchain import compile_network


def placement_lines(rep: PlacementSummary) -> list[str]:
    """Human summary of a compile's placement report (shared with ``inspect``)."""
    def _link_bounds(r):
        every, at = r.max_link_load_bound, r.max_link_load_bound_at_traffic
        parts = ([] if every is None else [f"bound {every:.4g}"]) + \
            ([] if at is None else [f"{at:.4g} at this traffic"])
        return f" ({'; '.join(parts)})" if parts else ""
    gap = "n/a" if rep.gap is None else f"{100 * rep.gap:.1f}%"
    limit = "" if rep.time_limit is None else \
        f"time limit {rep.time_limit:.3g} {'det. units' if rep.deterministic else 's wall'}"
    top = sorted((rep.time_split_s or {}).items(), key=lambda kv: -kv[1])[:6]
    split_line = ["  time split: " + ", ".join(f"{k} {v:.2f} s" for k, v in top)] if top else []
    bound = "n/a" if rep.bound is None else f"{rep.bound:.4g}"
    seq = rep.sequential_hop_weighted_traffic
    ratio = f" ({rep.hop_weighted_traffic / seq:.2f}x sequential)" if seq > 0 else ""
    slack = f", link slack {rep.link_slack:g}" if rep.link_slack else ""
    return [f"placement ({rep.method}, rates {rep.rates}, seed {rep.seed}, "
            f"{limit}{slack}): {rep.cores_used} cores",
            f"  hop-weighted traffic {rep.hop_weighted_traffic:.4g} packet-hops/step{ratio}; "
            f"sequential {seq:.4g}; bound {bound}; gap {gap}",
            f"  inter-core packets {rep.inter_core_packets:.4g}/step, mean hops {rep.mean_hops:.3g}, "
            f"max hops {rep.max_hops}, max link load {rep.max_link_load:.4g} packets/step{_link_bounds(rep)}",
            f"  energy {rep.energy_pj_per_step / 1e3:.4g} nJ/step, latency {rep.latency_ns_per_step / 1e3:.4g} "
            f"us/step, solve {rep.solve_time_s:.2f} s"] + split_line


@click.command("compile")
@allow_outside_option
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="loihi", show_default=True,
              help="Target name (built-in) or path to a target .toml file.")
@click.option("--output", "-o", type=click.Path(file_okay=False), required=True,
              help="Image directory to write (replaced only if it is a neuromap image or empty; see --force).")
@click.option("--force", is_flag=True, help="Replace -o even if it is a directory that is not a neuromap image.")
@click.option("--placer", type=click.Choice(["sequential", "greedy", "tiles", "cpsat"]), default="cpsat",
              show_default=True,
              help="Partition/placement method (docs/placement.md).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Wall-clock budget of the whole placement (partition, mesh, bounds, link phase; TrueNorth "
                   "crossbar/fan-out solves) [default: scaled with the synapse count, 3 s + 2 s per million, "
                   "at most 30 s]. Results may vary with machine load; see --deterministic.")
@click.option("--deterministic", is_flag=True,
              help="Same result on every run: --time-limit counts deterministic work units (CP-SAT "
                   "deterministic time, ~1 s of one core each) instead of wall time, which is then not bounded.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Solver seed.")
@click.option("--link-slack", type=click.FloatRange(min=0, max=1), default=0.0, show_default=True,
              metavar="FRACTION",
              help="Allow the hop-weighted traffic to rise by up to this fraction of the best found to lower "
                   "the busiest mesh link (cpsat; 0: traffic first).")
@click.option("--rates", default="uniform", show_default=True, metavar="uniform|auto|FILE",
              help="Traffic weights: uniform (1 spike/step), auto (200-step emulator run) or a "
                   ".yaml/.json/.npy rates file, per population or per neuron (docs/placement.md).")
@click.option("--freeze", is_flag=True,
              help="Drop every projection's plasticity: weights stay at their initial values (Lava 0.10 runs "
                   "only static and stdp_loihi projections, so `validate` needs this for the seed rules).")
@click.option("--strict", is_flag=True,
              help="Fail (exit 2, no image written) if the compile loses anything: synapses zeroed or dropped, "
                   "weights clipped, refractory dropped, plasticity frozen, delay-1 synapses relayed one step late "
                   "(the fidelity report).")
@click.option("--max-rate-error", type=click.FloatRange(min=0), default=None, metavar="FRACTION",
              help="Fail (exit 2, no image written) if the estimated float-vs-chip rate error of a short sample "
                   "run exceeds this fraction (0.1 = 10%) in any population.")
@click.option("--allow-reset-approximation", is_flag=True,
              help="Run populations with reset: subtract (snnTorch's default) as reset-to-v_reset on targets whose "
                   "cores cannot subtract (loihi, truenorth); listed as a fidelity loss. Without it they are refused.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (image size + placement report).")
@nir_options
@quiet_option
def command(network: str, target: str, output: str, placer: str, time_limit: float | None, deterministic: bool,
            seed: int, link_slack: float, rates: str, freeze: bool, strict: bool, max_rate_error: float | None,
            allow_reset_approximation: bool, as_json: bool, quiet: bool, force: bool, nir_kwargs: dict) -> None:
    """Compile NETWORK (.yaml/.yml/.json, .nir or module.py:function) for --target into -o BUILD.

    \b
    Examples:
      neuromap compile net.yaml -t loihi -o build/
      neuromap compile net.yaml -o build/ --placer greedy --json
      neuromap compile examples/ramp_lif.yaml --freeze -o build/ramp_frozen
      neuromap compile net.yaml -t truenorth -o build/ --strict --max-rate-error 0.1
    """
    check_replaceable(Path(output), force)   # before the compile: a refused -o costs nothing
    net = load_network_cli(network, nir_kwargs=nir_kwargs)
    if freeze:
        net = dataclasses.replace(net, projections=[dataclasses.replace(p, plasticity=None) for p in net.projections])
    with bar("compile passes", enabled=not quiet) as progress:
        result = compile_network(net, target=target, placer=placer, time_limit=time_limit,
                                 deterministic=deterministic, seed=seed, rates=rates, link_slack=link_slack,
                                 progress=progress,
                                 **({"allow_reset_approximation": True} if allow_reset_approximation else {}),
                                 **({"rate_check": "always"} if max_rate_error is not None else {}))
    img, reports = result.image, result.reports
    enforce(reports.fidelity, strict, max_rate_error, where=f"{network}: ")
    img.save(output, force=force)
    if as_json:
        click.echo(json.dumps({"network": net.name, "target": img.target, "output": str(output),
                               "neurons": img.n_neurons, "inputs": img.n_inputs, "cores": img.n_cores,
                               "axons": img.n_axons, "synapses": img.n_synapses,
                               "placement": reports.placement.to_dict() if reports.placement else None,
                               "fidelity": reports.fidelity.to_dict(), "warnings": result.warnings(),
                               "passes": [r.to_dict() for r in result.passes]}))
        return
    click.echo(f"{net.name}: {img.n_neurons} neurons, {img.n_inputs} inputs, {img.n_cores} cores, "
               f"{img.n_axons} axons, {img.n_synapses} synapses -> {output} (target {img.target})")
    mem = memory_report(img)          # shared-weight convolutions: their memory vs explicit synapses
    if mem is not None:
        click.echo(memory_line(mem))
    for line in placement_lines(reports.placement) if reports.placement else []:
        click.echo(line)
    if reports.truenorth:   # TrueNorth target: legalization summary (neuromap/compiler/lower_truenorth.py)
        click.echo(reports.truenorth.crossbar_line())
    click.echo(reports.fidelity.summary())
    for w in result.warnings():
        click.echo(f"warning: {w}", err=True)
