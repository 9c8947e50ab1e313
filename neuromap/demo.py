"""``make demo``: the main job, on a network big enough to show what mapping is for.

1. **Seed 003, briefly**: the Ramp (Izhikevich neurons, nn_stdp vs homeostatic_stdp) in the float
   reference for ``RAMP_SECONDS`` from ``examples/ramp_izhikevich.yaml``, next to ANNarchy's numbers.
2. **Seed 004 on a chip**: ``examples/spatial_balanced_ei.py:build`` (3920 LIF neurons on a sheet,
   1024 Poisson inputs, 0.9 M synapses, inhibitory plasticity ``vogels_isp`` on I -> E) through the
   commands a user runs: ``compile`` (check, quantize, fan-in, partition and CP-SAT placement on a
   32-chip Loihi board, traffic weighted by a short emulator run) -> ``run`` on the bit-accurate
   emulator (learning on chip) -> ``validate`` against Lava fixed_pt (the plastic build, weights
   compared too) -> ``report`` (one HTML page). Then it prints what the mapping gives next to filling
   cores in id order: cores, hop traffic, busiest link, energy per step, float vs chip rates.

Everything lands in ``demo-out/``; the report is ``demo-out/report.html``.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from backends.lava.compat import lava_available
from neuromap.cli import main as cli_main
from neuromap.image import load_image
from neuromap.io import load_network
from neuromap.report_html import write_report
from neuromap.simulator import simulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "ramp_izhikevich.yaml")
RAMP_SECONDS = 10
NETWORK = os.path.join(ROOT, "examples", "spatial_balanced_ei.py") + ":build"
OUT = "demo-out"
#: placement budget (None: the compiler's default, wall seconds scaled with the synapse count) and run lengths
TIME_LIMIT, STEPS, VALIDATE_STEPS = None, 1000, 20


def _neuromap(*args: str) -> None:
    """Run one ``neuromap`` command in-process, as the console script would; stop on failure."""
    shown = [os.path.relpath(a) if os.path.isabs(a.split(":")[0]) else a for a in args]
    print(f"\n$ neuromap {' '.join(shown)}", flush=True)
    try:
        cli_main(list(args))
    except SystemExit as e:
        if e.code not in (0, None):
            raise SystemExit(f"demo: `neuromap {' '.join(shown)}` exited {e.code}") from None


def ramp(seconds: float = RAMP_SECONDS) -> None:
    """Seed 003 in the float reference: rates and the weight/input-rate correlation of both rules."""
    net = load_network(EXAMPLE)
    steps = int(seconds * 1000 / net.dt)
    t = time.perf_counter()
    res = simulate(net, steps)
    print(f"seed 003 Ramp ({os.path.relpath(EXAMPLE)}): {seconds:g} s simulated in {time.perf_counter() - t:.1f} s "
          f"({res.backend} backend)")
    rate_in = np.asarray(net.populations["inp"].neuron["rate"])
    for pr in net.projections:
        w = res.weights[pr.name]
        corr = np.corrcoef(rate_in[pr.pre_idx], w)[0, 1]
        print(f"  {pr.post} ({pr.plasticity['rule']}): {res.rates[pr.post][0]:6.2f} Hz, "
              f"corr(weight, input rate) {corr:+.2f}")
    print("  ANNarchy (1000 s): 55.75 Hz without homeostasis, 35.25 Hz with it (target 35 Hz)")


def gain_lines(rep: dict, rates: dict) -> list[str]:
    """What the placement gives next to sequential fill (``options["placement"]`` of the image) and the
    float vs chip rates (``rates``: population -> {float_hz, chip_hz})."""
    def vs(x, seq, unit, scale=1.0):
        base = "" if not seq else f"   sequential fill {seq / scale:.4g}{unit} ({x / seq:.2f}x)"
        return f"{x / scale:.4g}{unit}{base}"
    lines = [f"  cores used            {rep['cores_used']}   sequential fill {rep['sequential_n_cores']}",
             "  hop traffic           "
             f"{vs(rep['hop_weighted_traffic'], rep['sequential_hop_weighted_traffic'], ' packet-hops/step')}",
             "  busiest mesh link     "
             f"{vs(rep['max_link_load'], rep.get('sequential_max_link_load'), ' packets/step')}",
             "  energy per step       "
             f"{vs(rep['energy_pj_per_step'], rep.get('sequential_energy_pj_per_step'), ' nJ', 1e3)}",
             f"  latency per step      {rep['latency_ns_per_step'] / 1e3:.4g} us (estimate)"]
    for p, r in rates.items():
        if r.get("float_hz") is not None:
            lines.append(f"  rate {p:<4}             float {r['float_hz']:6.2f} Hz   chip {r['chip_hz']:6.2f} Hz")
    return lines


def main_job(out: str = OUT, network: str = NETWORK, steps: int = STEPS, validate_steps: int = VALIDATE_STEPS,
             time_limit: float | None = TIME_LIMIT) -> str:
    """compile -> run -> validate (``validate_steps`` > 0 and lava-nc installed) -> report on ``network``;
    returns the report's path."""
    build, results = os.path.join(out, "build"), os.path.join(out, "results.npz")
    report = os.path.join(out, "report.html")
    os.makedirs(out, exist_ok=True)
    budget = [] if time_limit is None else ["--time-limit", f"{time_limit:g}"]
    _neuromap("compile", network, "--target", "loihi", "--rates", "auto", *budget, "-o", build)
    _neuromap("run", build, "--steps", str(steps), "-o", results)
    if not validate_steps:
        pass
    elif lava_available():  # the plastic network in Lava (seed rules: backends/lava/procs/plastic_connection.py)
        _neuromap("validate", build, "--steps", str(validate_steps))
    else:
        print("lava-nc is not installed: skipping validation (pip install 'neuromap[lava]' or `make install`)")
    shown = os.path.relpath(network.split(":")[0]) + (":" + network.split(":", 1)[1] if ":" in network else "")
    print(f"\n$ neuromap report {build} --results {results} --network {shown} -o {report}", flush=True)
    t = time.perf_counter()
    summary = write_report(build, report, results=results, network=network)
    print(f"wrote {report} ({summary['figures']} figures, {time.perf_counter() - t:.1f} s)")
    rep = load_image(build).options["placement"]
    print(f"\nwhat the mapping gives ({summary['network']} on {summary['target']}: "
          f"{summary['size']['neurons']} neurons, "
          f"{summary['size']['synapses']} synapses):")
    for line in gain_lines(rep, summary["rates"]):
        print(line)
    return report


def main() -> int:
    t = time.perf_counter()
    ramp()
    print(f"\nseed 004 on a chip: {NETWORK.split(os.sep)[-1]}")
    report = main_job()
    print(f"\ndemo done in {time.perf_counter() - t:.0f} s: image, results and report in {OUT}/")
    print(f"open the report: {os.path.abspath(report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
