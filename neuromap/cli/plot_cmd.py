"""``neuromap plot [BUILD] -o DIR [--results R.npz] [--network NETWORK]``: every plot the inputs allow.

Inputs and the plots they give (functions in :mod:`neuromap.plots`, ``docs/plots.md``):

* ``--results`` (an emulator results file from ``neuromap run``, or a float one from
  ``neuromap simulate -o``): ``raster.png``.
* BUILD (an image directory): ``mesh.png``, cores on the tile mesh with link loads
  (measured spike messages per step when the results are an emulator run, otherwise
  route-table entries); core positions from ``options.placement`` of the image when
  the compiler recorded them, else the target's sequential core order.
* emulator ``--results`` + ``--network``: ``rates.png`` (the network simulated by the
  float reference for the same number of steps).
* BUILD + ``--network`` with a quantization report in the image: ``weights_<proj>.png``.
* ``--network`` with plastic projections: ``weight_evolution_<proj>.png`` (the float
  reference re-run to ``--snapshots`` evenly spaced times up to ``--steps``).
"""
from __future__ import annotations

import json
import os

import click
import numpy as np

from neuromap import plots
from neuromap.cli import allow_outside_option, quiet_option
from neuromap.conv_geometry import expand as expand_convs
from neuromap.errors import NeuromapError
from neuromap.image import load_image
from neuromap.io import load_network
from neuromap.progress import PhaseTimes, bar
from neuromap.simulator import simulate
from neuromap.targets import load_target


@click.command("plot", epilog="Example: neuromap plot build/ --results results.npz --network examples/brunel.yaml "
                              "-o plots/")
@allow_outside_option
@click.argument("build", required=False, type=click.Path(file_okay=False))
@click.option("--output", "-o", type=click.Path(file_okay=False), required=True, help="Directory for the plots.")
@click.option("--results", "-r", type=click.Path(dir_okay=False), default=None,
              help="Results .npz (from `neuromap run` or `neuromap simulate -o`).")
@click.option("--network", "-n", default=None, help="The source network (.yaml/.json/.nir or module.py:function).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Steps for float re-runs (default: the results' steps, else 1000).")
@click.option("--snapshots", type=click.IntRange(min=2, max=100), default=8, show_default=True,
              help="Weight snapshots for the weight-evolution plot.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the written files; docs/json.md).")
@quiet_option
def command(build, output, results, network, steps, snapshots, fmt, as_json, quiet) -> None:
    """Write the plots that BUILD, --results and --network allow into the directory -o DIR."""
    if build is None and results is None and network is None:
        raise NeuromapError("nothing to plot: give BUILD, --results or --network")
    phases = PhaseTimes()
    with bar("plots", enabled=not quiet and not as_json) as progress:
        written = make_plots(output, build=build, results=results, network=network, steps=steps,
                             snapshots=snapshots, fmt=fmt, progress=progress, phases=phases)
    if not written:
        raise NeuromapError("no plot could be made from these inputs (see `neuromap plot --help`)")
    if as_json:
        click.echo(json.dumps({"output": str(output), "written": written, "time_split_s": phases.as_dict()}))
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(phases.line())


def make_plots(out_dir: str, build: str | None = None, results: str | None = None, network: str | None = None,
               steps: int | None = None, snapshots: int = 8, fmt: str = "png", progress=None,
               phases: PhaseTimes | None = None) -> list[str]:
    """Every plot the inputs allow, written into ``out_dir``; returns the written paths.

    ``progress(done, total)`` counts float-reference steps simulated (the slow part) plus one per plot;
    ``phases`` (:class:`neuromap.progress.PhaseTimes`) gets the wall seconds of each phase and names it on
    the bar."""
    phases = phases if phases is not None else PhaseTimes()

    img = _image(build) if build else None
    res = load_any_results(results) if results else None
    net = None
    if network:
        net = load_network(network)
    os.makedirs(out_dir, exist_ok=True)
    out = lambda name: os.path.join(out_dir, f"{name}.{fmt}")  # noqa: E731
    written = []
    sizes = population_sizes(img, net, res)
    dt = net.dt if net is not None else (res["dt"] if res and res["dt"] else 1.0)
    rate_run = res is not None and res["kind"] == "emulator" and net is not None
    plastic = net is not None and any(p.plasticity for p in net.projections)
    n_evo = steps or (res["steps"] if res else 1000)
    times = np.unique(np.linspace(0, n_evo, snapshots).astype(int)) if plastic else np.zeros(0, int)
    total = 5 + (res["steps"] if rate_run else 0) + int(times.sum())
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(min(done[0], total), total)

    def sim_progress(base: int):
        return None if progress is None else (lambda d, _n: progress(min(base + d, total), total))

    if res is not None:
        with phases.phase("raster", progress):
            title = f"spikes ({res['kind']}, {res['steps']} steps)"
            written.append(plots.spike_raster(res["spikes"], sizes, dt, out("raster"), title=title))
    advance(1)
    if img is not None:
        with phases.phase("mesh", progress):
            written.append(mesh_plot(img, res, out("mesh")))
    advance(1)
    runs: dict[int, object] = {}  # float reference runs by length (a shorter run is a prefix of a longer one)
    if rate_run:
        with phases.phase("float reference", progress):
            ref = runs[res["steps"]] = simulate(net, res["steps"], progress=sim_progress(done[0]),
                                                **poisson_stream_of(img))
        advance(res["steps"])
        secs = res["steps"] * net.dt / 1000.0
        fr = {p: ref.spikes[p][0].size / (net.populations[p].size * secs) for p in net.populations}
        hw = {p: s[0].size / (sizes[p] * secs) for p, s in res["spikes"].items() if p in sizes}
        with phases.phase("rates", progress):
            written.append(plots.rate_comparison(fr, hw, out("rates")))
    advance(1)
    if img is not None and net is not None:
        with phases.phase("quantization", progress):
            written += _quantization(img, net, out)
    advance(1)
    if plastic:
        with phases.phase("weight evolution (float reference)", progress):
            written += _evolution(net, times, out, runs, advance, sim_progress, poisson_stream_of(img))
    advance(1)
    return written


def _image(build: str):
    return load_image(build)


def load_any_results(path: str) -> dict:
    """A results file as ``{kind, steps, dt, spikes: pop -> (step, index), link_spikes, core_spikes}``.

    kind ``emulator`` (``spikes/<pop>`` rows, from ``neuromap run``) or ``float``
    (``spikes.<pop>.step`` / ``.index``, from ``neuromap simulate -o``).
    """
    if not os.path.isfile(path):
        raise NeuromapError(f"{path}: results file not found (check the path; `neuromap run -o` writes one)")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise NeuromapError(f"{path}: not a results .npz: {type(e).__name__} (give the file written by "
                            f"`neuromap run -o` or `neuromap simulate -o`)") from None
    if "format" in d:             # the index of an MPI run's per-rank result files: merged on read
        from backends.emulator import load_results  # lazy: per-rank results only (CLI start-up)

        res = load_results(path)
        d = {"steps": res.steps, "link_spikes": res.link_spikes, "core_spikes": res.core_spikes,
             **{f"spikes/{k}": v for k, v in res.spikes.items()}}
    spikes = {}
    if any(k.startswith("spikes/") for k in d):
        for k, v in d.items():
            if k.startswith("spikes/"):
                v = np.asarray(v).reshape(-1, 2)
                spikes[k[len("spikes/"):]] = (v[:, 0], v[:, 1])
        kind = "emulator"
    elif any(k.startswith("spikes.") for k in d):
        for k, v in d.items():
            if k.startswith("spikes.") and k.endswith(".step"):
                pop = k[len("spikes."):-len(".step")]
                spikes[pop] = (v, d[f"spikes.{pop}.index"])
        kind = "float"
    else:
        raise NeuromapError(f"{path}: no spike arrays (expected a file from `neuromap run` or `neuromap simulate -o`)")
    if "steps" not in d:
        raise NeuromapError(f"{path}: missing 'steps'")
    return {"kind": kind, "steps": int(d["steps"]), "dt": float(d["dt"]) if "dt" in d else None, "spikes": spikes,
            "link_spikes": d.get("link_spikes"), "core_spikes": d.get("core_spikes")}


def population_sizes(img, net, res) -> dict[str, int]:
    sizes: dict[str, int] = {}
    if res is not None:
        sizes.update({p: int(idx.max(initial=-1)) + 1 for p, (_, idx) in res["spikes"].items()})
    if img is not None:
        sizes.update({p.name: p.size for p in img.populations})
    if net is not None:
        sizes.update({p.name: p.size for p in net.populations.values()})
    return sizes


def mesh_plot(img, res, path: str) -> str:
    """Cores on the mesh; link loads from measured messages (emulator results) or route entries."""
    import scipy.sparse as sp

    # lazy: CLI start-up (`neuromap --help` imports every command module; the placer brings ortools, ~1.4 s)
    from neuromap.placement.mesh import board_slots
    from neuromap.placement.routing import link_loads  # lazy: as above

    C = img.n_cores
    target = load_target(img.target)
    placed = (img.options or {}).get("placement") or {}
    if "tile_x" in placed and "tile_y" in placed and len(placed["tile_x"]) == C:
        tx, ty = np.asarray(placed["tile_x"], np.int64), np.asarray(placed["tile_y"], np.int64)
    else:
        bx, by = board_slots(target)
        if C > bx.size:
            raise NeuromapError(f"image has {C} cores, target {img.target!r} only {bx.size}")
        tx, ty = bx[:C], by[:C]
    shape = (max(int(target.mesh_shape[0]), int(tx.max(initial=0)) + 1),
             max(int(target.mesh_shape[1]), int(ty.max(initial=0)) + 1))
    load, unit, core_load = None, "route entries", None
    if res is not None and res["kind"] == "emulator" and res["link_spikes"] is not None \
            and np.shape(res["link_spikes"]) == (C + 1, C):
        load = np.asarray(res["link_spikes"], float)[:C] / max(res["steps"], 1)
        unit, core_load = "messages/step", res["core_spikes"]
    if load is None:  # route-table entries: source core -> destination core
        src_ptr = img.routes["src_ptr"]
        n_src = np.diff(src_ptr)
        src_core = np.concatenate([img.neurons["core"].astype(np.int64), np.full(img.n_inputs, -1)])
        rows = np.repeat(src_core, n_src)
        m = rows >= 0
        load = sp.coo_matrix((np.ones(int(m.sum())), (rows[m], img.routes["core"][m].astype(np.int64))),
                             shape=(C, C)).toarray()
    e, w, n, s = link_loads(sp.coo_matrix(load), tx, ty, shape)
    # trim the board to the used region (plus one tile) so big boards stay readable
    ux, uy = min(shape[0], int(tx.max(initial=0)) + 2), min(shape[1], int(ty.max(initial=0)) + 2)
    return plots.mesh_heatmap(tx, ty, e[:uy, :ux + 1], w[:uy, :ux + 1], n[:ux, :uy + 1], s[:ux, :uy + 1], path,
                              core_load=core_load, title=f"{img.network_name} on {img.target}: {C} cores",
                              unit=unit)


def quantized_weights(img, net) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(projection, float weights, quantized weights in float units)`` for every projection with a scale
    in the image's quantization report. Image synapses are in axon order, not the network's: compare
    distributions only."""
    report = (img.options or {}).get("quantization")
    if not report:
        return []
    scale = {p["name"]: p["scale"] for p in report.get("projections", [])}
    img = expand_convs(img)          # shared-weight convolutions: every synapse, as for the other projections
    proj_of_syn = img.synapse_projections()
    by_name = {p.name: p for p in net.projections}
    out = []
    for k, pm in enumerate(img.projections):
        if pm.name not in scale or not scale[pm.name] or pm.name not in by_name:
            continue
        q = img.synapses["weight"][proj_of_syn == k].astype(float) / float(scale[pm.name])
        out.append((pm.name, by_name[pm.name].weight, q))
    return out


def _quantization(img, net, out) -> list[str]:
    """Float vs quantized weights per projection (needs the compiler's quantization report)."""
    return [plots.weight_histograms(fw, q, out(f"weights_{name}"), name=name)
            for name, fw, q in quantized_weights(img, net)]


def poisson_stream_of(img) -> dict:
    """``simulate``'s keyword replaying the Poisson input events of image ``img`` (its stream kind; none without
    an image: the default)."""
    return {} if img is None else {"poisson_stream": img.poisson_stream}


def _evolution(net, times: np.ndarray, out, runs: dict, advance, sim_progress, stream: dict) -> list[str]:
    """Weights of plastic projections at ``times`` (steps): the float reference re-run to each time
    (a longer run extends a shorter one: inputs are drawn block by block from the seed); ``runs``:
    float runs already made, by length."""
    plastic = [p for p in net.projections if p.plasticity]
    series = {p.name: [] for p in plastic}
    for t in times:
        r = runs.get(int(t))
        if r is None:
            r = simulate(net, int(t), progress=sim_progress(0), **stream)
        advance(int(t))
        for p in plastic:
            series[p.name].append(np.asarray(r.weights.get(p.name, p.weight), float))
    return [plots.weight_evolution(times * net.dt, np.stack(series[p.name]), out(f"weight_evolution_{p.name}"),
                                   name=p.name) for p in plastic]
