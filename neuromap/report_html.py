"""One self-contained HTML page about a compiled image: ``neuromap report BUILD -o report.html``.

The page needs no server and no network: every figure is a PNG inlined as base64 (``data:`` URI),
the style sheet is inline, there is no script. Sections (each figure with a one-line explanation):

* **What the mapping gives** -- cores, hop-weighted traffic, busiest mesh link and energy per step of
  the placement next to sequential fill (from the image's placement report).
* **Core utilization** -- every core resource as a fraction of its limit (neurons, input axons from the
  image arrays; output axons and synapse memory from the placement report).
* **Mesh** -- cores on the tile mesh, each link coloured by its load: measured spike messages per step
  when ``results`` come from ``neuromap run``, else route-table entries.
* **Quantization** -- the compiler's table (scale, bits, relative error per projection and population)
  and, with ``network``, float vs quantized weight histograms per projection.
* **Float vs chip** -- mean rate per population of the float reference (``network`` simulated for the
  results' steps) and of the chip run (``results``), and a spike raster of the chip run.

Sections whose inputs are missing say which option would fill them.
"""
from __future__ import annotations

import base64
import html
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from neuromap import plots
from neuromap.cli import plot_cmd
from neuromap.cli.inspect_cmd import summarize
from neuromap.cli.plot_cmd import load_any_results, mesh_plot, population_sizes, quantized_weights
from neuromap.compiler.result import CompileReports
from neuromap.image import load_image
from neuromap.io import load_network
from neuromap.progress import Progress, scaled
from neuromap.simulator import simulate

#: report sections in page order (id, title)
SECTIONS = (("gain", "What the mapping gives"), ("utilization", "Core utilization"), ("mesh", "Mesh and link load"),
            ("quantization", "Quantization"), ("rates", "Float reference vs chip"))

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:0 0 10px;border-bottom:2px solid #dde3ec;
padding-bottom:4px}.sub{color:#5a6478;margin:0 0 18px}
section{background:#fff;border:1px solid #e2e6ee;border-radius:8px;padding:16px 20px;margin:0 0 18px}
figure{margin:12px 0;text-align:center}figure img{max-width:100%;height:auto}
figcaption,.why{color:#4a5468;font-size:.92em;margin-top:4px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.86em;margin:8px 0}
th,td{border-bottom:1px solid #e5e8ef;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f0f3f8}td:first-child,th:first-child{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 200px;border:1px solid #e2e6ee;border-radius:8px;padding:10px 14px;background:#fbfcfe}
.card .k{color:#5a6478;font-size:.85em}.card .v{font-size:1.35em;font-weight:600}
.card .b{color:#5a6478;font-size:.85em}.good{color:#18794e}.bad{color:#b42318}
.grid{display:flex;flex-wrap:wrap;gap:8px;justify-content:center}.grid figure{flex:1 1 420px;max-width:540px}
.missing{color:#8a5a00;background:#fff8e6;border:1px solid #f3dba5;border-radius:6px;padding:6px 10px}
"""


@dataclass
class Figure:
    """One inlined figure: PNG bytes and its one-line explanation."""

    png: bytes
    caption: str
    wide: bool = False   # a row of its own at full width


@dataclass
class Section:
    """One section of the page: an explanation, HTML blocks (tables, cards) and figures."""

    id: str
    title: str
    why: str
    blocks: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def _e(x) -> str:
    return html.escape(str(x))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    """An HTML table of ``rows``: ``cols`` = (key, header) pairs; wrapped so wide tables scroll."""
    head = "".join(f"<th>{_e(h)}</th>" for _, h in cols)
    body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(r.get(k)))}</td>" for k, _ in cols) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _card(key: str, value: str, base: str = "", good: bool | None = None) -> str:
    cls = "" if good is None else (" good" if good else " bad")
    return (f'<div class="card"><div class="k">{_e(key)}</div><div class="v{cls}">{_e(value)}</div>'
            f'<div class="b">{_e(base)}</div></div>')


class _Figures:
    """Writes plots (``neuromap.plots``) into a temporary directory and reads them back as PNG bytes."""

    def __init__(self, tmp: str):
        self.tmp, self.n = tmp, 0

    def path(self) -> str:
        self.n += 1
        return os.path.join(self.tmp, f"fig{self.n}.png")

    @staticmethod
    def read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()


def _gain(rep: dict | None, measured: dict | None) -> Section:
    s = Section("gain", "What the mapping gives",
                "The placer's result next to filling cores in neuron-id order and placing them in board order "
                "(the sequential baseline), per time step.")
    if not rep:
        s.blocks.append('<p class="missing">This image has no placement report (compiled without placement).</p>')
        return s
    cards = []
    seq_cores = rep.get("sequential_n_cores")
    cards.append(_card("cores used", f"{rep['cores_used']}",
                       f"sequential fill: {seq_cores}" if seq_cores else "",
                       None if not seq_cores else rep["cores_used"] <= seq_cores))
    seq = rep.get("sequential_hop_weighted_traffic") or 0
    hw = rep["hop_weighted_traffic"]
    cards.append(_card("hop-weighted traffic", f"{hw:.4g} packet-hops/step",
                       f"sequential: {seq:.4g} ({hw / seq:.2f}x)" if seq else "", None if not seq else hw <= seq))
    seq_link = rep.get("sequential_max_link_load")
    cards.append(_card("busiest mesh link", f"{rep['max_link_load']:.4g} packets/step",
                       f"sequential: {seq_link:.4g} ({rep['max_link_load'] / seq_link:.2f}x)" if seq_link else
                       f"mean hops {rep['mean_hops']:.3g}, max {rep['max_hops']}",
                       None if not seq_link else rep["max_link_load"] <= seq_link))
    seq_e = rep.get("sequential_energy_pj_per_step")
    e = rep["energy_pj_per_step"]
    cards.append(_card("energy per step", f"{e / 1e3:.4g} nJ",
                       f"sequential: {seq_e / 1e3:.4g} nJ ({e / seq_e:.2f}x)" if seq_e else
                       f"latency {rep['latency_ns_per_step'] / 1e3:.4g} us/step", None if not seq_e else e <= seq_e))
    s.blocks.append('<div class="cards">' + "".join(cards) + "</div>")
    unit = "det. units" if rep.get("deterministic") else "s wall"   # the budget's unit (docs/placement.md)
    notes = [f"placer {rep['method']} (rates {rep['rates']}, time limit {rep['time_limit']:.3g} {unit}, "
             f"solve {rep['solve_time_s']:.1f} s)"]
    if rep.get("bound") is not None:
        notes.append(f"proven lower bound on the traffic {rep['bound']:.4g} (gap {100 * (rep.get('gap') or 0):.1f}%)")
    notes.append(f"latency {rep['latency_ns_per_step'] / 1e3:.4g} us/step (estimate)")
    if measured:
        notes.append(f"measured on the chip run: {measured['messages']:.4g} inter-core messages/step, "
                     f"{measured['spikes']:.4g} spikes/step")
    s.blocks.append(f'<p class="why">{_e("; ".join(notes))}.</p>')
    return s


def _utilization(img, reports: CompileReports, summary: dict, figs: _Figures) -> Section:
    s = Section("utilization", "Core utilization",
                "How full each core is, per resource (100% = the target's limit); the fullest resource is what "
                "decides how many cores the network needs.")
    util = dict(summary["utilization"])
    placed = (reports.placement.utilization if reports.placement is not None else None) or {}
    util.update({k: v for k, v in (placed.get("per_core") or {}).items() if k in util})  # capacity model's counts
    rows = [{"resource": k, "min": v["min"], "median": v["median"], "max": v["max"], "limit": v["limit"],
             "max %": None if not v["limit"] else round(100 * v["max"] / v["limit"], 1)} for k, v in util.items()]
    s.blocks.append(_table(rows, [("resource", "resource"), ("min", "min"), ("median", "median"), ("max", "max"),
                                  ("limit", "limit per core"), ("max %", "max % of limit")]))
    if summary.get("binding"):
        s.blocks.append(f'<p class="why">Limited by {_e(summary["binding"])} '
                        f'({100 * summary["binding_fraction"]:.1f}% of a core at most).</p>')
    values = placed.get("values") or {"neurons": np.bincount(img.neurons["core"], minlength=img.n_cores)}
    per_core = {k.replace("_", " "): 100.0 * np.asarray(values[k], float) / util[k]["limit"]
                for k in values if k in util and util[k]["limit"]}
    summary_pct = {k.replace("_", " "): (100 * v["median"] / v["limit"], 100 * v["max"] / v["limit"])
                   for k, v in util.items() if v["limit"]}
    path = plots.core_utilization(per_core, summary_pct, figs.path(), title=f"{img.n_cores} cores")
    s.figures.append(Figure(figs.read(path), "Left: median and fullest core per resource. Right: every "
                                             "resource of each core as % of the core's limit."))
    return s


def _mesh(img, res, figs: _Figures) -> Section:
    measured = res is not None and res["kind"] == "emulator" and res["link_spikes"] is not None
    s = Section("mesh", "Mesh and link load",
                "Where each core sits on the chip's tile mesh and how busy every mesh link is: spikes between "
                "cores travel along X then Y, and the busiest link bounds how fast a step can finish.")
    path = mesh_plot(img, res, figs.path())
    what = "measured spike messages per step of the chip run" if measured else \
        "route-table entries (give --results from `neuromap run` for measured traffic)"
    s.figures.append(Figure(figs.read(path), f"Links coloured and thickened by load ({what}); core markers "
                                             "sized by the spikes they emitted when measured."))
    return s


def _quantization(img, reports: CompileReports, net, figs: _Figures) -> Section:
    q = reports.quantization.to_dict() if reports.quantization is not None else None
    s = Section("quantization", "Quantization",
                "Float parameters become the target's integers: each projection gets one weight scale and "
                "exponent; the relative error is what the rounding costs.")
    if not q:
        s.blocks.append('<p class="missing">No quantization: the network was given in hardware units.</p>')
        return s
    if q.get("projections"):
        s.blocks.append(_table(q["projections"], [("name", "projection"), ("n_synapses", "synapses"),
                                                  ("scale", "scale"), ("weight_exp", "exponent"),
                                                  ("effective_bits", "bits"), ("sign_mode", "sign"),
                                                  ("rms_rel_error", "rms rel. error"),
                                                  ("max_rel_error", "max rel. error"), ("clipped", "clipped"),
                                                  ("zeroed", "zeroed")]))
    if q.get("populations"):
        s.blocks.append(_table(q["populations"], [("name", "population"), ("model", "model"), ("size", "size"),
                                                  ("vth", "v_th (int)"), ("threshold_rel_error", "v_th rel. error"),
                                                  ("tau_m_hw", "tau_m on chip (ms)"),
                                                  ("tau_syn_hw", "tau_syn on chip (ms)"),
                                                  ("refractory_dropped", "refractory dropped")]))
    if net is None:
        s.blocks.append('<p class="missing">Give --network (the source network) for float vs quantized weight '
                        'histograms.</p>')
        return s
    errors = {}
    for name, fw, qw in quantized_weights(img, net):
        f, q = np.sort(np.asarray(fw, float)), np.sort(np.asarray(qw, float))
        if f.size and f.size == q.size:   # rounding is monotone: sorted values pair each synapse with itself
            nz = f != 0
            errors[name] = (q[nz] - f[nz]) / np.abs(f[nz])
    if errors:
        path = plots.quantization_errors(errors, figs.path())
        s.figures.append(Figure(figs.read(path), "Per-synapse relative weight error, (chip weight / scale - float "
                                                 "weight) / |float weight|, at the initial weights."))
    return s


def _rates(img, res, net, figs: _Figures, progress: Progress | None) -> tuple[Section, dict]:
    s = Section("rates", "Float reference vs chip",
                "The same network simulated in float64 (the reference) and run on the chip's integers: "
                "mean rates should agree within the quantization error.")
    table: dict = {}
    if res is None:
        s.blocks.append('<p class="missing">Give --results (from `neuromap run -o`) for rates and a raster.</p>')
        return s, table
    sizes = population_sizes(img, net, res)
    dt = net.dt if net is not None else (res["dt"] or 1.0)
    secs = res["steps"] * dt / 1000.0
    hw = {p: st.size / (sizes[p] * secs) for p, (st, _) in res["spikes"].items() if sizes.get(p)}
    fr: dict = {}
    if net is not None and res["kind"] == "emulator":
        ref = simulate(net, res["steps"], progress=progress, **plot_cmd.poisson_stream_of(img))
        fr = {p: ref.spikes[p][0].size / (net.populations[p].size * secs) for p in net.populations}
    rows = []
    for p in hw:
        r = {"population": p, "size": sizes[p], "chip": hw[p], "float": fr.get(p)}
        r["difference %"] = None if not fr.get(p) else round(100 * (hw[p] - fr[p]) / fr[p], 1)
        rows.append(r)
    table = {r["population"]: {"chip_hz": r["chip"], "float_hz": r["float"]} for r in rows}
    s.blocks.append(_table(rows, [("population", "population"), ("size", "neurons"), ("float", "float (Hz)"),
                                  ("chip", "chip (Hz)"), ("difference %", "chip - float (%)")]))
    if fr:
        path = plots.rate_comparison(fr, hw, figs.path(), labels=("float reference (Hz)", "chip (Hz)"), size=4.2,
                                     title=f"mean rates over {res['steps']} steps")
        s.figures.append(Figure(figs.read(path), "One point per population; on the dashed line the chip fires as "
                                                 "often as the float reference."))
    elif net is None:
        s.blocks.append('<p class="missing">Give --network for the float reference rates.</p>')
    shown = min(res["steps"], 1000)
    path = plots.spike_raster(res["spikes"], sizes, dt, figs.path(), max_neurons=100, max_steps=shown,
                              title=f"chip run: {'all' if shown == res['steps'] else 'first'} {shown} steps, "
                                    f"first 100 neurons per population")
    s.figures.append(Figure(figs.read(path), "Spike raster of the chip run (one row per neuron, one tick per "
                                             "spike).", wide=True))
    return s, table


def build_sections(build: str, results: str | None = None, network: str | None = None,
                   progress: Progress | None = None) -> tuple[dict, list[Section]]:
    """Load the inputs and make every section; returns (summary dict, sections)."""

    img = load_image(build)
    res = load_any_results(results) if results else None
    net = None
    if network:
        net = load_network(network)
    summary = summarize(img, build)
    reports = CompileReports.from_options(img.options)
    measured = None
    if res is not None and res["kind"] == "emulator" and res["link_spikes"] is not None:
        ls = np.asarray(res["link_spikes"], float)
        steps = max(res["steps"], 1)
        measured = {"messages": float(ls[:img.n_cores].sum() - np.trace(ls[:img.n_cores])) / steps,
                    "spikes": float(np.sum(res["core_spikes"])) / steps}
    total = 5 + (res["steps"] if res is not None and net is not None else 0)
    tick = (lambda d: progress(d, total)) if progress is not None else (lambda d: None)
    with tempfile.TemporaryDirectory(prefix="neuromap-report-") as tmp:
        figs = _Figures(tmp)
        sections = [_gain(summary["placement"], measured)]
        tick(1)
        sections.append(_utilization(img, reports, summary, figs))
        tick(2)
        sections.append(_mesh(img, res, figs))
        tick(3)
        sections.append(_quantization(img, reports, net, figs))
        tick(4)
        rates, table = _rates(img, res, net, figs, scaled(progress, 4, total))
        sections.append(rates)
        tick(total)
    summary["rates"] = table
    return summary, sections


def render(summary: dict, sections: list[Section]) -> str:
    """The page as one HTML string (figures inlined as base64 PNG)."""
    z = summary["size"]
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>neuromap report: {_e(summary['network'])} on {_e(summary['target'])}</title>",
             f"<style>{CSS}</style></head><body><main>",
             f"<h1>{_e(summary['network'])} on {_e(summary['target'])}</h1>",
             f'<p class="sub">{z["neurons"]} neurons, {z["inputs"]} inputs, {z["cores"]} cores, {z["axons"]} axons, '
             f'{z["synapses"]} synapses &middot; image {_e(summary["build"])} &middot; written by neuromap report</p>']
    for s in sections:
        parts.append(f'<section id="{s.id}"><h2>{_e(s.title)}</h2><p class="why">{_e(s.why)}</p>')
        parts += s.blocks
        narrow = [f for f in s.figures if not f.wide]
        for row in ([narrow] if narrow else []) + [[f] for f in s.figures if f.wide]:
            parts.append('<div class="grid">' if len(row) > 1 else "<div>")
            for f in row:
                data = base64.b64encode(f.png).decode("ascii")
                parts.append(f'<figure><img alt="{_e(f.caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{_e(f.caption)}</figcaption></figure>")
            parts.append("</div>")
        parts.append("</section>")
    if summary.get("warnings"):
        parts.append('<section id="warnings"><h2>Compiler warnings</h2><ul>' +
                     "".join(f"<li>{_e(w)}</li>" for w in summary["warnings"]) + "</ul></section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def write_report(build: str, output: str, results: str | None = None, network: str | None = None,
                 progress: Progress | None = None) -> dict:
    """Write the page for ``build`` to ``output`` (atomically); returns the summary dict (as ``inspect --json``,
    plus ``rates``: population -> {chip_hz, float_hz})."""
    summary, sections = build_sections(build, results, network, progress)
    page = render(summary, sections)
    d = os.path.dirname(os.path.abspath(output))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(output) + ".", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)
    os.chmod(tmp, 0o644)
    os.replace(tmp, output)
    summary["output"] = str(output)
    summary["figures"] = sum(len(s.figures) for s in sections)
    return summary
