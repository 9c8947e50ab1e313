"""What a compile lost, with numbers: the fidelity report of an image (``options["fidelity"]``).

Every compile (Loihi-style and TrueNorth targets) records, from the passes' own reports:

* ``synapses``: nonzero synapses of the source network;
* ``synapses_zeroed``: nonzero synapses whose quantized weight is 0 (quantization);
* ``synapses_dropped``: quantized synapses the TrueNorth crossbar legalization realized as 0 (each
  target synapse is one crossbar cell; ``neuromap/truenorth/report.py``);
* ``synapses_clipped``: weights clipped to the largest storable magnitude; ``sign_flips``: crossbar
  weights realized with the opposite sign;
* ``projections_zeroed``: projections that lost every nonzero synapse (zeroed + dropped);
* ``refractory_dropped``: population -> steps of refractory period dropped or shortened;
* ``weights_reencoded``: hardware-unit weights the synapse memory cannot hold as given (clipped or
  truncated as Lava does; ``neuromap/compiler/lower.py``);
* ``plasticity_frozen``: plastic projections compiled with frozen weights; ``bias_dropped``: populations
  whose TrueNorth always-on bias axon the crossbar could not realize;
* ``approximations``: mappings that compute differently by design (TrueNorth's linear leak reversal for
  an exponential decay, a memoryless lif's dropped current tail, spikes retimed around splitters,
  inexact fan-in relays);
* ``synapses_late``: delay-1 synapses relayed by the fan-in or fan-out legalization (one step late: a loss);
* ``rate``: an estimated firing-rate error (:class:`RateEstimate`): the float reference
  (:func:`neuromap.simulator.simulate`) and the compiled image run a short sample on the same input
  spikes (both draw the one documented Poisson stream, :mod:`neuromap.neurons.poisson`). The image runs
  on the compile's image runner (:data:`~neuromap.compiler.result.ImageRunner`, the emulator, supplied
  by the application layer: :func:`neuromap.toolchain.emulator_runner`; the compiler imports no
  runtime). It runs when the mapping is approximate or lost something (``rate_check: auto``; skipped,
  saying so, when the compile has no runner), always (``always``, and for ``--max-rate-error``; without
  a runner a one-line error) or never.
  Per population (:class:`PopulationCompare`, as ``neuromap compare`` reports them) rates, relative error
  and count correlation;
  the estimate is the largest ``|spikes_hw - spikes_ref| / max(spikes_ref, 1)`` (a population silent in
  float but firing on chip counts as if float had fired once). The sample is ``RATE_STEPS`` steps, fewer
  for large networks (a budget of ``RATE_BUDGET`` synapse-steps, at least ``RATE_MIN_STEPS``); networks
  above ``RATE_MAX_SYNAPSES`` synapses are skipped with the reason (use ``neuromap compare``). Deterministic: both runs
  are seeded
  from the network seed.

:func:`enforce` turns losses into a one-line :class:`FidelityError` (``compile --strict``) and a rate
estimate above a bound into one (``--max-rate-error``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap.compiler.quantize import to_plain
from neuromap.compiler.quantize_truenorth import BIAS_PREFIX
from neuromap.errors import ImageError, NeuromapError, TargetError
from neuromap.network import Network
from neuromap.simulator import simulate

RATE_STEPS = 1000            # sample length (steps) of the rate estimate
RATE_MIN_STEPS = 200         # never fewer steps (below this, skip instead)
RATE_BUDGET = 50_000_000     # synapses x steps of one estimate
RATE_MAX_SYNAPSES = 2_000_000
RATE_CHECKS = ("auto", "always", "never")
INPUT_MODELS = ("poisson", "spike_source")
HW_MODELS = ("loihi_lif", "truenorth")   # hardware-unit models: no float reference to compare with


@dataclass
class PopulationCompare:
    """Float reference vs chip for one neuron population: spike counts, mean rates (Hz), the relative rate
    error ``|hw - ref| / ref`` (None when ref has no spikes) and the Pearson correlation of per-neuron
    spike counts (None when either is constant)."""

    name: str
    size: int
    spikes_ref: int
    spikes_hw: int
    rate_ref_hz: float
    rate_hw_hz: float
    rate_rel_error: float | None
    count_correlation: float | None


def count_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson r of two per-neuron count vectors (None for fewer than two neurons or a constant side)."""
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


class FidelityError(TargetError):
    """A compile lost something the user asked to keep (``--strict``, ``--max-rate-error``)."""


@dataclass
class RateEstimate:
    """Float vs chip on a short sample: ``steps`` run (0 when skipped, ``skipped`` says why) and the largest
    per-population relative rate error ``max_rel_error`` (None when skipped)."""

    steps: int
    max_rel_error: float | None
    worst: str | None = None
    populations: list[PopulationCompare] = field(default_factory=list)   # as neuromap compare reports them
    skipped: str | None = None


@dataclass
class FidelityReport:
    target: str
    synapses: int = 0
    synapses_zeroed: int = 0
    synapses_dropped: int = 0
    synapses_clipped: int = 0
    sign_flips: int = 0
    projections_zeroed: list[str] = field(default_factory=list)
    refractory_dropped: dict[str, int] = field(default_factory=dict)
    plasticity_frozen: list[str] = field(default_factory=list)
    bias_dropped: list[str] = field(default_factory=list)
    reset_approximated: list[str] = field(default_factory=list)
    weights_reencoded: list[str] = field(default_factory=list)
    approximations: list[str] = field(default_factory=list)
    synapses_late: int = 0
    rate: RateEstimate | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FidelityReport":
        """The report of an image's ``options["fidelity"]``; a malformed one is a one-line ImageError."""
        try:
            known = {f.name for f in dataclasses.fields(cls)} - {"rate"}
            rep = cls(**{k: v for k, v in d.items() if k in known})
            r = d.get("rate")
            if r is not None:
                rk = {f.name for f in dataclasses.fields(RateEstimate)} - {"populations"}
                rep.rate = RateEstimate(**{k: v for k, v in r.items() if k in rk},
                                        populations=[PopulationCompare(**p) for p in r.get("populations", [])])
            rep.summary()
            return rep
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ImageError(f"manifest options.fidelity: malformed report ({type(e).__name__}: {e}; recompile the "
                             "image)") from None

    def losses(self) -> list[tuple[str, str]]:
        """What was lost, one ``(what, fix)`` per kind (empty: nothing dropped, zeroed, clipped or frozen)."""
        out = []
        zp = f"; projection{'s' if len(self.projections_zeroed) > 1 else ''} " \
             f"{', '.join(map(repr, self.projections_zeroed))} entirely" if self.projections_zeroed else ""
        lost = self.synapses_zeroed + self.synapses_dropped
        if lost:
            parts = [f"{n} {k}" for n, k in ((self.synapses_zeroed, "zeroed by quantization"),
                                             (self.synapses_dropped, "dropped by the crossbar")) if n]
            out.append((f"{lost} of {self.synapses} synapses lost ({', '.join(parts)}{zp})",
                        "raise the small weights relative to the largest onto the same population, or split "
                        "projections with very different weights onto separate populations"))
        if self.synapses_late:
            out.append((f"{self.synapses_late} delay-1 synapse(s) arrive one step late through fan-in or fan-out "
                        "relays", "give the relayed synapses delays >= 2 steps, or lower the fan-in or fan-out"))
        if self.synapses_clipped:
            out.append((f"{self.synapses_clipped} synapse weights clipped to the largest storable",
                        "lower the largest weights or raise the threshold"))
        if self.weights_reencoded:
            out.append((f"hardware-unit weights clipped or truncated by the synapse encoding: "
                        f"{self.weights_reencoded[0]}", "fit the weights to num_weight_bits or use weight_exp"))
        if self.sign_flips:
            out.append((f"{self.sign_flips} synapses realized with the opposite sign by the crossbar",
                        "give excitatory and inhibitory inputs separate projections (target exc / inh)"))
        if self.refractory_dropped:
            out.append(("refractory dropped: " + ", ".join(f"{p} ({n} steps)" for p, n in
                                                          self.refractory_dropped.items()),
                        "set refractory within the target's limit (0 on truenorth)"))
        if self.bias_dropped:
            out.append((f"bias lost by the crossbar on {', '.join(map(repr, self.bias_dropped))}",
                        "free an axon type on those cores (fewer distinct weights onto the population)"))
        if self.reset_approximated:
            out.append(("reset by subtraction run as reset to v_reset on "
                        + ", ".join(map(repr, self.reset_approximated)),
                        "set reset: zero in the float network, or use a target that resets by subtraction"))
        if self.plasticity_frozen:
            out.append((f"plasticity frozen on {', '.join(map(repr, self.plasticity_frozen))}",
                        "compile with --freeze to accept frozen weights, or choose a target/rule that learns "
                        "on chip"))
        return out

    @property
    def exact(self) -> bool:
        return not self.losses() and not self.approximations

    def summary(self) -> str:
        """One line for ``compile`` and ``inspect``."""
        parts = [w for w, _ in self.losses()] or ["nothing dropped, zeroed, clipped or frozen"]
        if self.approximations:
            parts.append(f"{len(self.approximations)} approximate mapping"
                         f"{'s' if len(self.approximations) > 1 else ''}")
        r = self.rate
        if r is not None and r.max_rel_error is not None:
            parts.append(f"estimated rate error {100 * r.max_rel_error:.1f}% ({r.worst}, {r.steps}-step sample)")
        elif r is not None and r.skipped:
            parts.append(f"rate error not estimated ({r.skipped})")
        return "fidelity: " + "; ".join(parts)


# ------------------------------------------------------------------ collection from the passes' reports
def nonzero_synapses(network: Network) -> dict[str, int]:
    """Nonzero weights per projection name of ``network``."""
    return {pr.name: int(np.count_nonzero(pr.weight)) for pr in network.projections}


def collect(network: Network, target_name: str, reports, nonzero: dict[str, int] | None = None) -> FidelityReport:
    """The report's counts from the passes' reports (:class:`~neuromap.compiler.result.CompileReports`:
    ``quantization`` or ``truenorth``, ``fan_in``, ``fan_out``, ``reset_approximated``, ``weight_encoding``);
    ``nonzero``: :func:`nonzero_synapses` of ``network`` if taken before (``release_input``)."""
    rep = FidelityReport(target_name)
    nz = nonzero_synapses(network) if nonzero is None else nonzero
    rep.synapses = sum(nz.values())
    tn = reports.truenorth
    q = tn.quantization if tn is not None else reports.quantization
    lost = dict.fromkeys(nz, 0)
    for p in q.projections if q is not None else []:
        rep.synapses_zeroed += int(p.zeroed)
        rep.synapses_clipped += int(p.clipped)
        lost[p.name] = lost.get(p.name, 0) + int(p.zeroed)
        if p.plasticity and not getattr(p, "learning", None):      # TrueNorth projections never learn
            rep.plasticity_frozen.append(p.name)
    for p in q.populations if q is not None else []:
        if int(p.refractory_dropped):
            rep.refractory_dropped[p.name] = int(p.refractory_dropped)
        mode = getattr(p, "mode", None)                             # TrueNorth neuron mapping
        if mode == "lif-leak-reversal":
            how = ""
            if p.v_origin:
                how = f"; V = 0 at the bias equilibrium (reset to R = {p.R})"
            if p.bias_axon_weight:
                how += f"; an always-on axon of weight {p.bias_axon_weight}"
            rep.approximations.append(f"{p.name}: exponential decay as TrueNorth's linear leak reversal{how}")
        elif mode == "lif-memoryless":
            rep.approximations.append(f"{p.name}: memoryless lif, the synaptic current's tail is dropped")
    fi = reports.fan_in
    if fi is not None and fi.inexact_groups:
        rep.approximations.append(f"{fi.inexact_groups} fan-in relay group(s) sum their inputs in steps "
                                  "(partial sums not multiples of the relay quantum are floored)")
    fno = reports.fan_out
    rep.synapses_late = (fi.late_synapses if fi is not None else 0) + (fno.late_synapses if fno is not None else 0)
    rep.reset_approximated = list(reports.reset_approximated or [])
    rep.weights_reencoded = list(reports.weight_encoding or [])
    if tn is not None:
        cb = tn.crossbar or {}
        for row in cb.get("by_projection", []):
            if row["name"].startswith(BIAS_PREFIX):      # an always-on axon: the population's bias
                if row["dropped"] or row["sign_flips"]:
                    rep.bias_dropped.append(row["name"][len(BIAS_PREFIX):])
                continue
            rep.synapses_dropped += row["dropped"]
            rep.sign_flips += row["sign_flips"]
            lost[row["name"]] = lost.get(row["name"], 0) + row["dropped"]
        fo = tn.fanout or {}
        if fo.get("uncompensated_routes"):
            rep.approximations.append(f"{fo['uncompensated_routes']} fan-out route(s) keep a timing error")
        if fo.get("max_phi"):
            rep.approximations.append(f"neurons spike up to {fo['max_phi']} tick(s) late (retimed around splitters)")
    rep.projections_zeroed = [k for k, n in nz.items() if n and lost.get(k, 0) >= n]
    return rep


# ------------------------------------------------------------------ rate estimate
def sample_steps(n_synapses: int) -> int:
    """Steps of the rate estimate for a network of ``n_synapses`` synapses (0: skip)."""
    if n_synapses > RATE_MAX_SYNAPSES:
        return 0
    return int(min(RATE_STEPS, max(RATE_MIN_STEPS, RATE_BUDGET // max(1, n_synapses))))


def estimate_rates(network: Network, image, steps: int | None = None, runner=None) -> RateEstimate:
    """Float reference vs ``image`` run by ``runner`` (:data:`~neuromap.compiler.result.ImageRunner`) for a
    short sample on the same input spikes; without a runner a one-line TargetError."""
    n_syn = sum(pr.n_synapses for pr in network.projections)
    steps = sample_steps(n_syn) if steps is None else int(steps)
    if steps <= 0:
        return RateEstimate(0, None, skipped=f"{n_syn} synapses, above the {RATE_MAX_SYNAPSES} of a quick estimate; "
                                             "run `neuromap compare`")
    if not any(p.model not in INPUT_MODELS for p in network.populations.values()):
        return RateEstimate(0, None, skipped="no neuron populations")
    hw = sorted({p.model for p in network.populations.values() if p.model in HW_MODELS})
    if hw:
        return RateEstimate(0, None, skipped=f"populations in hardware units ({', '.join(hw)}) have no float "
                                             "reference; the image computes them as given")
    if runner is None:
        raise TargetError("the rate estimate runs the image, and this compile has no image runner (use "
                          "neuromap.toolchain.compile_network, or pass runner=neuromap.toolchain.emulator_runner; "
                          "or rate_check: never)")
    ref = simulate(network, steps, poisson_stream=image.poisson_stream)
    spikes = runner(image, steps)
    src = spikes[:, 1] if spikes.size else np.zeros(0, np.int64)
    secs = steps * network.dt / 1000.0
    est = RateEstimate(steps, None)
    for pm in image.populations:
        if pm.kind != "neuron" or pm.name not in network.populations:
            continue
        n_hw = np.bincount(src[(src >= pm.start) & (src < pm.start + pm.size)] - pm.start, minlength=pm.size)
        n_ref = ref.spike_counts(pm.name, pm.size)
        c_hw, c_ref = int(n_hw.sum()), int(n_ref.sum())
        err = abs(c_hw - c_ref) / max(c_ref, 1)
        est.populations.append(PopulationCompare(pm.name, pm.size, c_ref, c_hw, c_ref / (pm.size * secs),
                                                 c_hw / (pm.size * secs), float(err) if c_ref else None,
                                                 count_correlation(n_ref, n_hw)))
        if est.max_rel_error is None or err > est.max_rel_error:
            est.max_rel_error, est.worst = float(err), pm.name
    return est


def fidelity_report(network: Network, target: Any, reports, image, rate_check: str = "auto",
                    runner=None, nonzero: dict[str, int] | None = None) -> FidelityReport:
    """The fidelity report of ``image`` compiled from ``network`` (``reports``: the passes' reports,
    :class:`~neuromap.compiler.result.CompileReports`; ``rate_check``: auto | always | never; ``runner``
    runs the rate sample: without one ``auto`` records the estimate as skipped and ``always`` raises;
    ``nonzero``: the counts of :func:`nonzero_synapses` taken before the compile released ``network``'s
    projections (``release_input``): ``auto`` then records the rate sample as skipped)."""
    if rate_check not in RATE_CHECKS:
        raise TargetError(f"rate_check: {rate_check!r} is not one of {', '.join(RATE_CHECKS)}")
    rep = collect(network, target.name, reports, nonzero)
    float_net = any(p.model in ("lif", "if") for p in network.populations.values())
    if rate_check == "always" or (rate_check == "auto" and float_net and not rep.exact):
        if nonzero is not None:
            rep.rate = RateEstimate(0, None, skipped="the compile released the input network (release_input)")
            return rep
        if runner is None and rate_check == "auto":
            rep.rate = RateEstimate(0, None, skipped="no image runner in this compile (neuromap.toolchain."
                                                     "compile_network runs the emulator)")
            return rep
        try:
            rep.rate = estimate_rates(network, image, runner=runner)
        except NeuromapError as e:       # the compile stands; the estimate says why it is missing
            if runner is None:
                raise
            rep.rate = RateEstimate(0, None, skipped=f"the sample run failed: {e}")
    return rep


def enforce(rep: FidelityReport, strict: bool = False, max_rate_error: float | None = None, where: str = "") -> None:
    """Raise one-line :class:`FidelityError` when ``strict`` and something was lost, or when the estimated rate
    error exceeds ``max_rate_error`` (a fraction, 0.1 = 10 %)."""
    if strict:
        losses = rep.losses()
        if losses:
            what, fix = losses[0]
            more = f" (and {len(losses) - 1} more loss{'es' if len(losses) > 2 else ''})" if len(losses) > 1 else ""
            raise FidelityError(f"{where}--strict: {what}{more} on {rep.target!r} ({fix}; or drop --strict)")
    if max_rate_error is not None:
        r = rep.rate
        if r is None or r.max_rel_error is None:
            why = r.skipped if r is not None else "not run"
            raise FidelityError(f"{where}--max-rate-error {max_rate_error:g}: the rate error could not be "
                                f"estimated ({why}; drop --max-rate-error and run `neuromap compare`)")
        if r.max_rel_error > max_rate_error:
            p = next(x for x in r.populations if x.name == r.worst)
            raise FidelityError(f"{where}--max-rate-error {max_rate_error:g}: estimated rate error "
                                f"{r.max_rel_error:.3g} on population {r.worst!r} ({p.rate_ref_hz:.4g} Hz float vs "
                                f"{p.rate_hw_hz:.4g} Hz on {rep.target}, {r.steps}-step sample) exceeds it "
                                "(see `neuromap compare` for the details; raise the bound or change the mapping)")
