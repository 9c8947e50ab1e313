"""``neuromap inspect BUILD [--json]``: what a compiled image uses and what the compiler measured.

Reads only the image directory: core utilization (neurons, input-axon slots, output axons,
fan-out cores, synapse memory and synapses per core, recounted from the arrays by the one capacity
accounting, :mod:`neuromap.capacity`, that packing, the placement checker and the image verifier use),
the placement report (traffic, hops, max link load, energy and latency per step,
objective vs sequential baseline, bound and gap), what limited the mapping (the
capacity with the highest max-use/limit) and the quantization report when the
image has one, and the compiler's per-pass records (options, statistics, timings) as the compile saved them in
the manifest (``pass_records``; older images have none). The compiler's reports are read back from the
manifest as the typed reports a compile returns (:meth:`neuromap.compiler.CompileReports.from_options`), so
``inspect`` formats the same objects as ``compile``. ``--json`` prints one JSON object. Bad or corrupt BUILD:
one-line error, exit 2.
"""
from __future__ import annotations

import json

import click
import numpy as np

from neuromap import embedded
from neuromap.capacity import CoreLimits, image_usage, utilization
from neuromap.cli.compile_cmd import placement_lines
from neuromap.compiler.lower_truenorth import TrueNorthReport
from neuromap.compiler.result import CompileReports, PassRecord, image_pass_records
from neuromap.conv_geometry import memory_line, memory_report
from neuromap.image import load_image


def _stats(a, limit=None) -> dict:
    a = np.asarray(a, float)
    if not a.size:
        a = np.zeros(1)
    return {"min": float(a.min()), "median": float(np.median(a)), "max": float(a.max()),
            "limit": None if not limit else int(limit)}


def summarize(img, build: str) -> dict:
    """Everything ``inspect`` shows, as one JSON-serializable dict (docs/json.md)."""
    C = img.n_cores
    reports = CompileReports.from_options(img.options)
    limits = CoreLimits.from_constants(img.constants)
    if limits is not None:     # the one capacity accounting (neuromap/capacity.py), recounted from the arrays
        u = utilization(image_usage(img, limits), limits)
        util, binding, fraction, over = u["per_core"], u["binding"], u["binding_fraction"], u["over"]
    else:                      # an image that records no core limits: counts only
        syn_core = np.bincount(img.neurons["core"][img.synapses["post"]], minlength=C) if img.n_synapses \
            else np.zeros(C)
        util = {"neurons": _stats(np.bincount(img.neurons["core"], minlength=C)),
                "input_axons": _stats(np.diff(img.cores["axon_ptr"])), "synapses": _stats(syn_core)}
        binding = fraction = None
        over = []
    placement = None
    if reports.placement is not None:
        placement = {k: v for k, v in reports.placement.to_dict().items() if k != "utilization"}
    return {"build": str(build), "network": img.network_name, "target": img.target,
            "size": {"neurons": img.n_neurons, "inputs": img.n_inputs, "cores": C, "axons": img.n_axons,
                     "synapses": img.n_synapses},
            "has_mesh_positions": "tile_x" in img.cores,
            "utilization": util, "binding": binding, "binding_fraction": fraction,
            "over_capacity": over, "placement": placement,
            "quantization": reports.quantization.to_dict() if reports.quantization is not None else None,
            "fan_in": reports.fan_in.to_dict() if reports.fan_in is not None else None,
            "fan_out": reports.fan_out.to_dict() if reports.fan_out is not None else None,
            "truenorth": _truenorth_summary(reports.truenorth),
            "fidelity": reports.fidelity.to_dict() if reports.fidelity is not None else None,
            "warnings": reports.warnings(), "shared_weights": memory_report(img),
            "controllers": embedded.summary(img) or None,
            "passes": [r.to_dict() for r in image_pass_records(img)] if img.pass_records else None}


def _truenorth_summary(tn: TrueNorthReport | None) -> dict | None:
    """TrueNorth legalization (neuromap/compiler/lower_truenorth.py): quantization tables, crossbar and fan-out
    totals."""
    if tn is None:
        return None
    return {"quantization": tn.quantization.to_dict(), "crossbar": (tn.crossbar or {}).get("totals"),
            "fanout": tn.fanout, "placement": tn.placement, "time_split_s": tn.time_split_s,
            "time_limit": tn.time_limit, "deterministic": tn.deterministic}


def _table(rows: list[dict], width: int = 9) -> list[str]:
    """Scalar fields of ``rows`` as an aligned text table."""
    if not rows:
        return []
    cols = [k for k, v in rows[0].items() if isinstance(v, (int, float, str, bool)) or v is None]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    w = {k: max(len(k), *(len(fmt(r.get(k))) for r in rows)) for k in cols}
    out = ["  " + "  ".join(f"{k:>{w[k]}}" for k in cols)]
    out += ["  " + "  ".join(f"{fmt(r.get(k)):>{w[k]}}" for k in cols) for r in rows]
    return out


def text_lines(s: dict, reports: CompileReports) -> list[str]:
    """``inspect``'s text: ``s`` from :func:`summarize`, ``reports`` the image's typed reports."""
    z = s["size"]
    lines = [f"{s['build']}: {s['network']} on {s['target']}: {z['neurons']} neurons, {z['inputs']} inputs, "
             f"{z['cores']} cores, {z['axons']} axons, {z['synapses']} synapses",
             "core utilization (per core: min / median / max of limit):"]
    for k, v in s["utilization"].items():
        lim = f"{v['limit']}" if v["limit"] else "-"
        pct = f" ({100 * v['max'] / v['limit']:.1f}% at most)" if v["limit"] else ""
        lines.append(f"  {k:<20s} {v['min']:.6g} / {v['median']:.6g} / {v['max']:.6g} of {lim}{pct}")
    lines += [f"  over capacity: {v}" for v in s.get("over_capacity", [])]
    if s["binding"]:
        lines.append(f"limited by: {s['binding']} ({100 * s['binding_fraction']:.1f}% of a core at most)")
    if s.get("shared_weights"):
        lines.append(memory_line(s["shared_weights"]))
    if s.get("controllers"):
        lines.append("embedded-core controllers (run between steps):")
        lines += [embedded.summary_line(d) for d in s["controllers"]]
    lines += placement_lines(reports.placement) if reports.placement else ["placement: no report in this image"]
    tn = s.get("truenorth")
    q = s["quantization"] or (tn or {}).get("quantization")
    if tn:
        t, fo = tn["crossbar"] or {}, tn["fanout"] or {}
        lines.append(f"truenorth: {tn['placement']}; crossbar weight error {100 * t.get('rel_error', 0):.2f}% L1 "
                     f"(rms {t.get('rms_error', 0):.3g}, max {t.get('max_error', 0):g}; {t.get('dropped', 0)} "
                     f"synapses dropped by the crossbar, {t.get('optimal_cores', 0)}/{t.get('cores', 0)} cores proven "
                     "optimal); "
                     f"{fo.get('splitters', 0)} splitter neurons")
    if q:
        lines.append(f"quantization (rounding {q['rounding']}):" if q.get("rounding") else "quantization:")
        lines += ["populations:"] + _table(q.get("populations", [])) if q.get("populations") else []
        lines += ["projections:"] + _table(q.get("projections", [])) if q.get("projections") else []
    else:
        lines.append("quantization: none (network given in hardware units)")
    fid = reports.fidelity
    if fid is not None:   # neuromap/compiler/fidelity.py: what the compile lost, with numbers
        lines.append(fid.summary())
        lines += [f"  approximation: {a}" for a in fid.approximations]
    if s.get("passes"):       # saved by the compile (manifest pass_records): nothing recomputed
        lines.append("compiler passes (as recorded when compiled):")
        lines += ["  " + PassRecord.from_dict(r).line() for r in s["passes"]]
    lines += [f"warning: {w}" for w in s.get("warnings", [])]
    return lines


@click.command("inspect")
@click.argument("build", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(build: str, as_json: bool) -> None:
    """Show core utilization, placement, energy/latency and quantization of the image BUILD.

    \b
    Examples:
      neuromap inspect build/
      neuromap inspect build/ --json | jq .placement.gap
    """
    img = load_image(build)
    s = summarize(img, build)
    if as_json:
        click.echo(json.dumps(s))
        return
    for line in text_lines(s, CompileReports.from_options(img.options)):
        click.echo(line)
