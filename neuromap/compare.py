"""Float reference vs compiled network on the emulator, on the same input spikes.

The float reference and every image consumer draw Poisson inputs as one documented stream
(:mod:`neuromap.neurons.poisson`: the network's Poisson populations in order, seeded with the network
seed, as the image numbers its inputs), so both sides see identical input events, several per step
included, without replaying anything.

Per neuron population: Pearson correlation of per-neuron spike counts, mean rates (Hz)
and the relative rate error; per plastic projection: the float net's final weights vs
the weights the compiled net learned on the emulated chip (integer learning engines;
frozen initial weights for rules without one), aligned synapse by synapse, as a
relative RMS error; per non-spiking readout population (NIR ``LI``/``CubaLI``, compiled as a probed-voltage
readout core): the float reference's membrane voltage vs the chip's ``v / v_scale + v_reset``, step by step.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.emulator import readout_scales
from emulator import emulate
from emulator.plastic import synapse_sources
from neuromap.compiler.fidelity import PopulationCompare, count_correlation
from neuromap.compiler.quantize import to_plain
from neuromap.network import Network
from neuromap.simulator import simulate
from neuromap.targets import Target, load_target
from neuromap.toolchain import compile_network

__all__ = ["CompareReport", "PopulationCompare", "ReadoutCompare", "WeightCompare", "compare", "format_report",
           "learned_weights", "align_weights"]


@dataclass
class WeightCompare:
    name: str
    n_synapses: int
    mean_ref: float
    mean_hw: float
    rms_rel_error: float             # rms(w_hw - w_ref) / rms(w_ref)
    learned_on_chip: bool


@dataclass
class ReadoutCompare:
    """Float reference vs chip readout voltage (float units) over every step and probed neuron."""

    name: str
    neurons: int
    rms_ref: float                   # rms of the reference voltage
    rms_error: float                 # rms(v_chip - v_ref)
    rel_rms_error: float | None      # rms_error / rms_ref (None when the reference is 0 throughout)
    max_abs_error: float
    chip_spikes: int                 # 0: the readout core never fired
    argmax_agreement: float | None   # fraction of steps whose largest-voltage neuron agrees (None: 1 neuron)


@dataclass
class CompareReport:
    network: str
    target: str
    steps: int
    dt: float
    populations: list[PopulationCompare] = field(default_factory=list)
    weights: list[WeightCompare] = field(default_factory=list)
    readouts: list[ReadoutCompare] = field(default_factory=list)
    quantization: dict[str, Any] = field(default_factory=dict)
    fan_in: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))


def _compile_reports(result) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(quantization report, fan-in report, warnings) of a compile as ``compare`` reports them: on TrueNorth
    the quantization report carries the legalization's warnings and ``fan_in`` holds the crossbar totals
    and the fan-out summary."""
    r = result.reports
    if r.truenorth is not None:
        q = dataclasses.replace(r.truenorth.quantization, warnings=list(r.truenorth.warnings))
        return q.to_dict(), {"crossbar": r.truenorth.crossbar["totals"], "fanout": r.truenorth.fanout}, q.warnings
    q = r.quantization
    return ((q.to_dict() if q is not None else {}), (r.fan_in.to_dict() if r.fan_in is not None else {}),
            list(q.warnings) if q is not None else [])


def compare(network: Network, target: Any = "loihi", steps: int = 1000, engine: str = "numba",
            freeze_plasticity: bool = False, allow_reset_approximation: bool = False) -> CompareReport:
    """Run the float reference and the compiled network (emulator) for ``steps`` steps on the same inputs.

    ``freeze_plasticity``: run the float reference and the compiled network without plasticity,
    so the comparison measures quantization alone. Otherwise plastic projections with an integer
    engine learn on the emulated chip and their final weights are compared with the float run's.
    ``allow_reset_approximation``: compile reset-by-subtraction populations as reset-to-v_reset (the loss is in
    the report's rates)."""
    if freeze_plasticity:
        network = dataclasses.replace(network, projections=[dataclasses.replace(p, plasticity=None)
                                                            for p in network.projections])
    tgt = target if isinstance(target, Target) else load_target(target)
    ref = simulate(network, steps)
    result = compile_network(network, tgt, rate_check="never",
                             **({"allow_reset_approximation": True} if allow_reset_approximation else {}))
    image = result.image
    hw = result.quantized_network or network         # the network in hardware units, before fan-in legalization
    quantization, fan_in, warnings = _compile_reports(result)
    run = emulate(image, steps, engine=engine)
    rep = CompareReport(network.name, tgt.name, steps, network.dt, quantization=quantization,
                        fan_in=fan_in, warnings=warnings)
    secs = steps * network.dt / 1000.0
    src = run.spikes[:, 1] if run.spikes.size else np.zeros(0, np.int64)
    for pm in image.populations:
        if pm.kind != "neuron" or pm.name not in network.populations:
            continue
        c_hw = np.bincount(src[(src >= pm.start) & (src < pm.start + pm.size)] - pm.start, minlength=pm.size)
        c_ref = ref.spike_counts(pm.name, pm.size)
        r_ref, r_hw = c_ref.sum() / (pm.size * secs), c_hw.sum() / (pm.size * secs)
        rep.populations.append(PopulationCompare(
            pm.name, pm.size, int(c_ref.sum()), int(c_hw.sum()), float(r_ref), float(r_hw),
            float(abs(r_hw - r_ref) / r_ref) if r_ref > 0 else None, count_correlation(c_ref, c_hw)))
    rep.readouts = _readouts(image, run, ref, src)
    scales = {p["name"]: p["scale"] for p in rep.quantization.get("projections", [])}
    hw_w = {pr.name: pr.weight for pr in hw.projections}
    learned = learned_weights(image, run)
    for pr in network.projections:
        if pr.plasticity is None or pr.name not in scales:
            continue
        w_ref = ref.weights[pr.name]
        on_chip = pr.name in learned
        if on_chip:   # final weights the emulator learned, aligned with the network's synapses
            w_hw = align_weights(pr, *learned[pr.name]) / scales[pr.name]
        else:         # frozen: the compiled initial weights
            w_hw = hw_w[pr.name] / scales[pr.name]
        rms = float(np.sqrt(np.mean(w_ref ** 2)))
        rep.weights.append(WeightCompare(pr.name, pr.n_synapses, float(w_ref.mean()), float(w_hw.mean()),
                                         float(np.sqrt(np.mean((w_hw - w_ref) ** 2)) / rms) if rms > 0 else 0.0,
                                         on_chip))
    return rep


def _readouts(image, run, ref, src: np.ndarray) -> list[ReadoutCompare]:
    """One :class:`ReadoutCompare` per readout population that both sides probed (its v)."""
    out = []
    col = {int(g): j for j, g in enumerate(run.probe)}
    for name, (scale, v_reset) in readout_scales(image).items():
        if name not in ref.traces or "v" not in ref.traces[name]:
            continue
        pm = image.population(name)
        n_ref = np.asarray(ref.trace_neurons[name], np.int64)
        keep = [i for i, k in enumerate(n_ref) if pm.start + int(k) in col and np.isfinite(scale[k])]
        if not keep:
            continue
        nn = n_ref[keep]
        v_ref = ref.traces[name]["v"][:, keep]
        v_hw = run.v[:, [col[pm.start + int(k)] for k in nn]] / scale[nn] + v_reset[nn]
        rms_ref = float(np.sqrt(np.mean(v_ref ** 2)))
        err = float(np.sqrt(np.mean((v_hw - v_ref) ** 2)))
        agree = float(np.mean(np.argmax(v_hw, 1) == np.argmax(v_ref, 1))) if nn.size > 1 else None
        fired = int(np.count_nonzero((src >= pm.start) & (src < pm.start + pm.size)))
        out.append(ReadoutCompare(name, int(nn.size), rms_ref, err, err / rms_ref if rms_ref > 0 else None,
                                  float(np.max(np.abs(v_hw - v_ref), initial=0.0)), fired, agree))
    return out


def learned_weights(image, run) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Projection name -> (pre, post, stored weight after the last step) of every plastic synapse of the
    image, population-local indices (from the emulator's recorded weights)."""
    if not getattr(run, "weights", None):
        return {}
    src = synapse_sources(image)
    syn_proj = image.synapse_projections()
    out = {}
    for k, w in run.weights.items():
        pm = image.projections[k]
        syn = np.flatnonzero(syn_proj == k)
        pre = src[syn] - image.source_ids(image.population(pm.pre))[0]
        post = image.synapses["post"][syn].astype(np.int64) - image.population(pm.post).start
        out[pm.name] = (pre, post, w[-1].astype(np.float64))
    return out


def align_weights(pr, pre: np.ndarray, post: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Image weights (one per (pre, post) pair) in the order of the network projection's synapses."""
    n_post = int(max(pr.post_idx.max(initial=0), post.max(initial=0))) + 1
    key = pre * n_post + post
    order = np.argsort(key)
    pos = np.searchsorted(key[order], pr.pre_idx.astype(np.int64) * n_post + pr.post_idx.astype(np.int64))
    return w[order][np.clip(pos, 0, max(w.size - 1, 0))]


def format_report(rep: CompareReport) -> str:
    """Human-readable table of a CompareReport."""
    lines = [f"{rep.network} on {rep.target}: {rep.steps} steps of {rep.dt:g} ms, same input spikes"]
    lines.append(f"{'population':<14} {'size':>6} {'rate ref':>10} {'rate hw':>10} {'rate err':>9} {'count r':>8}")
    for p in rep.populations:
        err = "-" if p.rate_rel_error is None else f"{100 * p.rate_rel_error:.1f}%"
        r = "-" if p.count_correlation is None else f"{p.count_correlation:.3f}"
        lines.append(f"{p.name:<14} {p.size:>6} {p.rate_ref_hz:>10.3f} {p.rate_hw_hz:>10.3f} {err:>9} {r:>8}")
    for w in rep.weights:
        lines.append(f"weights {w.name}: mean ref {w.mean_ref:.4g}, hw {w.mean_hw:.4g} "
                     f"({'learned' if w.learned_on_chip else 'frozen'}), rms rel error {w.rms_rel_error:.3f}")
    for r in rep.readouts:
        rel = "-" if r.rel_rms_error is None else f"{100 * r.rel_rms_error:.2f}%"
        arg = "" if r.argmax_agreement is None else f", argmax agrees {100 * r.argmax_agreement:.1f}% of steps"
        lines.append(f"readout {r.name} ({r.neurons} neurons, v): rms ref {r.rms_ref:.4g}, rms error "
                     f"{r.rms_error:.3g} ({rel}), max error {r.max_abs_error:.3g}{arg}, chip spikes {r.chip_spikes}")
    for msg in rep.warnings:
        lines.append(f"warning: {msg}")
    return "\n".join(lines)
