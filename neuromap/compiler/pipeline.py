"""The compile pipeline: one list of small pure passes over a :class:`CompileState`, a verifier after each.

A pass takes the state and returns a new one (``dataclasses.replace``); its verifier checks what the
pass promised and raises a one-line :class:`~neuromap.errors.TargetError` otherwise. A :class:`Pass`
declares the options it reads (fields of :class:`~neuromap.compiler.result.CompileOptions`), the
statistics it reports (named numbers with units, from its typed report) and, per core kind of the
target (:func:`core_kind`: ``loihi_lif`` cores, or ``truenorth`` crossbar cores), the function that
runs it and its verifier; a pass without an implementation for a core kind is not in that kind's
default list. ``options["passes"]`` may name a subset/order.

Passes (docs/concepts.md):

1. ``check`` (loihi_lif): every population, projection and rule against the target, all problems at
   once (:mod:`neuromap.compiler.check`).
2. ``quantize``: float ``lif``/``if`` -> ``loihi_lif`` (:mod:`neuromap.compiler.quantize`) or
   ``truenorth`` units (:mod:`neuromap.compiler.quantize_truenorth`).
3. ``legalize_fan_in`` (loihi_lif): relay trees above the fan-in limit (:mod:`neuromap.compiler.fan_in`).
4. ``legalize_fan_out`` (loihi_lif): relay neurons above the output-axon limit (:mod:`neuromap.compiler.fan_out`).
5. ``check_hw_units`` (loihi_lif): every neuron population is ``loihi_lif``, inputs are
   ``spike_source``/``poisson``, the target runs these models, delays fit.
6. ``place``: partition neurons into cores under every capacity, place cores on the mesh, route
   (:mod:`neuromap.compiler.place`, docs/placement.md); on truenorth fill cores in order.
7. ``lower``: build the :class:`~neuromap.image.Image` (:mod:`neuromap.compiler.lower`; on truenorth
   crossbar and fan-out legalization first, :mod:`neuromap.compiler.lower_truenorth`).

Then the ``fidelity`` analysis (what the compile lost, :mod:`neuromap.compiler.fidelity`). Passes
and the analysis that run the image (``rates: auto``, the fidelity rate sample) call the state's
``runner`` (:data:`~neuromap.compiler.result.ImageRunner`), which the application layer supplies
(:mod:`neuromap.toolchain`): the compiler imports no runtime.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neuromap.compiler import (
    check as _check,
    fan_in as _fan_in,
    fan_out as _fan_out,
    lower_truenorth as _tn,
    place as _place,
    quantize as _quantize,
)
from neuromap.compiler.analysis import AnalysisManager
from neuromap.compiler.arithmetic import is_loihi, lif_arithmetic
from neuromap.compiler.conv_share import share_convs
from neuromap.compiler.fidelity import fidelity_report, nonzero_synapses
from neuromap.compiler.lower import lower_to_image
from neuromap.compiler.quantize_learning import SUPPORTED_RULES as _LEARNING_RULES
from neuromap.compiler.result import (
    CompileOptions,
    CompileReports,
    CompileResult,
    ImageRunner,
    PassRecord,
    Statistic,
    peak_rss_bytes,
)
from neuromap.conv_geometry import memory_report as conv_memory_report
from neuromap.errors import TargetError
from neuromap.image import MAX_DELAY, Image
from neuromap.network import Network
from neuromap.placement.joins import first_split, network_join_parent
from neuromap.plasticity import hardware_rules as _hardware_rules
from neuromap.progress import set_label
from neuromap.targets import Target, load_target

#: models of neuron populations the hardware-unit path compiles, and of input populations
HW_NEURON_MODELS = ("loihi_lif",)
INPUT_MODELS = ("spike_source", "poisson")
#: core kinds the compiler lowers to (the image's ``core_kinds``)
CORE_KINDS = ("loihi_lif", "truenorth")


def core_kind(target: Any) -> str:
    """The core kind ``target`` compiles to: ``truenorth`` for binary-crossbar cores
    (``core.memory_model = "crossbar"``), else ``loihi_lif``."""
    return "truenorth" if _tn.is_truenorth(target) else "loihi_lif"


@dataclass(frozen=True)
class CompileState:
    """What the passes share. ``placement``: population name -> (core, slot) int arrays;
    ``core_positions``: ``tile_x``/``tile_y``/``chip`` of every image core (the place pass);
    ``quantized_network``: the network as the quantize pass left it; ``runner``: runs an image
    (passes that need one raise a one-line error without it)."""

    network: Network
    target: Any                      # neuromap.targets.Target
    options: CompileOptions = field(default_factory=CompileOptions)
    placement: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
    core_positions: dict[str, np.ndarray] | None = None
    image: Image | None = None
    reports: CompileReports = field(default_factory=CompileReports)
    quantized_network: Network | None = None
    runner: ImageRunner | None = None
    #: progress within the running pass, ``progress(done, total)`` (+ ``label``; :mod:`neuromap.progress`), or None
    progress: Callable | None = None
    #: the compile's cached analyses, shared by every state of one compile (:mod:`neuromap.compiler.analysis`)
    analyses: AnalysisManager = field(default_factory=AnalysisManager, compare=False)


@dataclass(frozen=True)
class Pass:
    """A pass: ``name``; per core kind, ``(run, verify)``; the :class:`CompileOptions` fields it reads;
    ``statistics(state) -> list[Statistic]`` after it ran."""

    name: str
    kinds: dict[str, tuple[Callable[[CompileState], CompileState], Callable[[CompileState], None]]]
    options: tuple[str, ...] = ()
    statistics: Callable[[CompileState], list[Statistic]] = lambda st: []

    def run(self, st: CompileState) -> CompileState:
        """Run this pass's implementation for the core kind of ``st.target``."""
        return self.kinds[core_kind(st.target)][0](st)

    def verify(self, st: CompileState) -> None:
        """Run this pass's verifier for the core kind of ``st.target``."""
        self.kinds[core_kind(st.target)][1](st)


# ------------------------------------------------------------------ check
def check_pass(st: CompileState) -> CompileState:
    """Pass ``check`` with the plasticity rules the quantize pass maps onto integer engines."""
    return _check.check_pass(st, _LEARNING_RULES)


def _check_stats(st: CompileState) -> list[Statistic]:
    return [Statistic("approximations", len(st.reports.compatibility or []))]


# ------------------------------------------------------------------ check hardware units
def check_hw_units(st: CompileState) -> CompileState:
    net, tgt = st.network, st.target
    where = f"{net.source}: " if net.source else ""
    q = st.reports.quantization
    quantized = {p.name for p in q.populations} if q is not None else set()
    for name, pop in net.populations.items():
        if pop.model not in HW_NEURON_MODELS + INPUT_MODELS:
            raise TargetError(f"{where}populations.{name}.neuron.model: {pop.model!r} is not in hardware units "
                              f"(the pass list has no quantize pass before check_hw_units; add it, or use "
                              "loihi_lif with du, dv, vth, bias_mant, bias_exp)")
        if pop.model not in tgt.neuron.models:
            raise TargetError(f"{where}populations.{name}.neuron.model: target {tgt.name!r} cannot run "
                              f"{pop.model!r} (it runs {', '.join(tgt.neuron.models)})")
        if pop.model == "loihi_lif" and name not in quantized and not is_loihi(lif_arithmetic(tgt)):
            raise TargetError(f"{where}populations.{name}.neuron.model: loihi_lif parameters are in Loihi's "
                              f"arithmetic (du/4096, vth << 6 ...), but target {tgt.name!r} runs "
                              f"{lif_arithmetic(tgt).to_dict()} (write the population in float units: lif or if)")
    dmin = max(1, tgt.synapse.delay_min)
    dmax = min(MAX_DELAY, tgt.synapse.delay_max)
    for i, pr in enumerate(net.projections):
        fld = f"{where}projections[{i}] ({pr.name})"
        if pr.plasticity is not None and pr.plasticity["rule"] not in _hardware_rules():
            raise TargetError(f"{fld}.plasticity: plastic projections cannot be compiled for Loihi yet "
                              "(only learning-engine rules compile: stdp_loihi or loihi; or remove plasticity)")
        if pr.hw is None:
            raise TargetError(f"{fld}: post population is not in hardware units (use loihi_lif)")
        if pr.n_synapses and (pr.delay.min() < dmin or pr.delay.max() > dmax):
            bad = int(pr.delay.min() if pr.delay.min() < dmin else pr.delay.max())
            raise TargetError(f"{fld}.delay: delay {bad} is outside [{dmin}, {dmax}] steps on target {tgt.name!r}")
        if not (tgt.synapse.weight_exp_min <= pr.hw["weight_exp"] <= tgt.synapse.weight_exp_max):
            raise TargetError(f"{fld}.weight_exp: {pr.hw['weight_exp']} is outside "
                              f"[{tgt.synapse.weight_exp_min}, {tgt.synapse.weight_exp_max}] on {tgt.name!r}")
    return st


def _verify_checked(st: CompileState) -> None:
    if st.placement is not None or st.image is not None:
        raise TargetError("check_hw_units must run before place and lower")


# ------------------------------------------------------------------ partition (fill in order; only by name)
def partition(st: CompileState) -> CompileState:
    return dataclasses.replace(st, placement=_place.fill_in_order(st.network, int(st.target.core.max_neurons)))


def _verify_partition(st: CompileState) -> None:
    cap = int(st.target.core.max_neurons)
    pl = st.placement or {}
    cores = np.concatenate([c for c, _ in pl.values()] or [np.zeros(0, np.int64)])
    slots = np.concatenate([s for _, s in pl.values()] or [np.zeros(0, np.int64)])
    for name, pop in st.network.populations.items():
        if pop.model not in INPUT_MODELS and (name not in pl or pl[name][0].shape != (pop.size,)):
            raise TargetError(f"partition left population {name!r} unplaced")
    if slots.size and (slots.min() < 0 or slots.max() >= cap):
        raise TargetError(f"partition put a neuron outside the {cap} compartments of a core")
    if np.unique(cores * cap + slots).size != cores.size:
        raise TargetError("partition put two neurons in one compartment")
    jp = network_join_parent(st.network, inputs=False)
    if jp is not None:
        order = [pl[n][0] for n, p in st.network.populations.items() if p.model not in INPUT_MODELS]
        d = first_split(jp, np.concatenate(order))
        if d >= 0:
            raise TargetError(f"partition put dendrite compartment {d} on another core than the soma it joins")


# ------------------------------------------------------------------ lower
def lower(st: CompileState) -> CompileState:
    image, notes = lower_to_image(st.network, st.target, st.placement, st.core_positions)
    image, conv_notes = share_convs(image, st.network)     # conv projections: kernel + geometry
    notes = notes + conv_notes
    return dataclasses.replace(st, image=image,
                               reports=dataclasses.replace(st.reports, weight_encoding=notes or None))


def _verify_image(st: CompileState) -> None:
    if st.image is None:
        raise TargetError("lower produced no image")
    st.image.verify()
    if st.image.n_cores > st.target.n_cores:
        raise TargetError(f"the network needs {st.image.n_cores} cores, more than target {st.target.name!r} has")


# ------------------------------------------------------------------ statistics of the passes' reports
def _quantize_stats(st: CompileState) -> list[Statistic]:
    q = st.reports.truenorth.quantization if st.reports.truenorth is not None else st.reports.quantization
    if q is None:
        return [Statistic("populations_quantized", 0)]
    return [Statistic("populations_quantized", len(q.populations)),
            Statistic("projections_quantized", len(q.projections)),
            Statistic("synapses_zeroed", sum(int(p.zeroed) for p in q.projections)),
            Statistic("synapses_clipped", sum(int(p.clipped) for p in q.projections)),
            Statistic("warnings", len(q.warnings))]


def _fan_in_stats(st: CompileState) -> list[Statistic]:
    f = st.reports.fan_in
    return [Statistic("relay_neurons", f.relay_neurons), Statistic("relay_synapses", f.relay_synapses),
            Statistic("relay_groups", f.groups)] if f is not None else []


def _fan_out_stats(st: CompileState) -> list[Statistic]:
    f = st.reports.fan_out
    return [Statistic("relay_neurons", f.relay_neurons), Statistic("relay_synapses", f.relay_synapses),
            Statistic("synapses_relayed", f.synapses_relayed),
            Statistic("neurons_split", sum(f.neurons_split.values())),
            Statistic("late_synapses", f.late_synapses)] if f is not None else []


def _place_stats(st: CompileState) -> list[Statistic]:
    p = st.reports.placement
    if p is None:      # truenorth: fill in order
        cores = 1 + max((int(c.max(initial=-1)) for c, _ in (st.placement or {}).values()), default=-1)
        return [Statistic("cores_used", cores)]
    return [Statistic("cores_used", p.cores_used), Statistic("hop_weighted_traffic", p.hop_weighted_traffic,
                                                             "packet-hops/step"),
            Statistic("max_link_load", p.max_link_load, "packets/step"),
            Statistic("energy", p.energy_pj_per_step, "pJ/step"), Statistic("solve_time", p.solve_time_s, "s")]


def _lower_stats(st: CompileState) -> list[Statistic]:
    img = st.image
    out = [Statistic("cores", img.n_cores), Statistic("neurons", img.n_neurons), Statistic("inputs", img.n_inputs),
           Statistic("axons", img.n_axons), Statistic("synapses", img.n_synapses)]
    mem = conv_memory_report(img)      # shared-weight convolutions: their memory vs explicit synapses
    if mem is not None:
        out += [Statistic("shared_conv_projections", len(img.convs)),
                Statistic("shared_synapse_memory_bits", mem["synapse_memory_bits"], "bits"),
                Statistic("explicit_synapse_memory_bits", mem["explicit_synapse_memory_bits"], "bits")]
    tn = st.reports.truenorth
    if tn is not None and tn.crossbar is not None:
        t = tn.crossbar["totals"]
        out += [Statistic("crossbar_rel_error", float(t["rel_error"]), "L1 fraction"),
                Statistic("synapses_dropped", int(t["dropped"])),
                Statistic("splitters", int(tn.fanout["splitters"]))]
    return out


_PLACE_OPTIONS = ("placer", "time_limit", "deterministic", "seed", "rates", "rate_steps", "link_slack")
_TN_LOWER_OPTIONS = ("time_limit", "deterministic", "tn_time_limit", "tn_split", "seed")

#: the one pass list; each pass runs on the core kinds it has an implementation for
PASSES: list[Pass] = [
    Pass("check", {"loihi_lif": (check_pass, _check.verify_check_pass)}, (), _check_stats),
    Pass("quantize", {"loihi_lif": (_quantize.quantize_pass, _quantize.verify_quantized),
                      "truenorth": (_tn.quantize_pass, _tn.verify_quantized)},
         ("rounding", "quant_seed", "v_headroom_bits", "allow_reset_approximation"), _quantize_stats),
    Pass("legalize_fan_in", {"loihi_lif": (_fan_in.fan_in_pass, _fan_in.verify_fan_in)},
         ("fan_in_cover", "fan_in_levels"), _fan_in_stats),
    Pass("legalize_fan_out", {"loihi_lif": (_fan_out.fan_out_pass, _fan_out.verify_fan_out)}, (), _fan_out_stats),
    Pass("check_hw_units", {"loihi_lif": (check_hw_units, _verify_checked)}),
    Pass("place", {"loihi_lif": (_place.place_pass, _place.verify_place),
                   "truenorth": (_tn.place_pass, _tn.verify_place)}, _PLACE_OPTIONS, _place_stats),
    Pass("lower", {"loihi_lif": (lower, _verify_image), "truenorth": (_tn.lower_pass, _tn.verify_lowered)},
         _TN_LOWER_OPTIONS, _lower_stats),
]

#: passes that run only when named in ``options["passes"]`` (e.g. ``["check_hw_units", "partition", "lower"]``)
EXTRA_PASSES: list[Pass] = [Pass("partition", {"loihi_lif": (partition, _verify_partition)})]


def default_passes(kind: str) -> list[str]:
    """Names of the default passes of core kind ``kind``, in order."""
    return [p.name for p in PASSES if kind in p.kinds]


def _release_input(network: Network, st: CompileState, released: dict[str, int] | None):
    """``release_input``: once the state's network is not ``network`` any more, empty ``network.projections``
    (after counting its nonzero weights for the fidelity report) and drop the state's ``quantized_network``
    (it holds the projections the legalizations replaced). Returns the state and the counts."""
    if st.quantized_network is not None:
        st = dataclasses.replace(st, quantized_network=None)
    if released is None and st.network is not network:
        released = nonzero_synapses(network)
        network.projections.clear()
    return st, released


#: progress units per compiler pass
PASS_UNITS = 1000


def _pass_progress(progress, i: int, n: int, name: str):
    """Progress of pass ``i`` of ``n``: ``(d, t)`` -> ``(i * PASS_UNITS + d * PASS_UNITS // t, n * PASS_UNITS)``,
    its label prefixed with the pass name."""
    if progress is None:
        return None
    set_label(progress, name)

    def inner(done: int, total: int) -> None:
        progress(i * PASS_UNITS + min(PASS_UNITS - 1, int(done) * PASS_UNITS // max(int(total), 1)), n * PASS_UNITS)

    inner.label = lambda text: set_label(progress, f"{name}: {text}" if text else name)
    return inner


def _declared(opts: CompileOptions, names: tuple[str, ...]) -> dict[str, Any]:
    return {k: getattr(opts, k) for k in names}


def compile_network(network: Network, target: Any = "loihi", *, runner: ImageRunner | None = None,
                    progress: Callable | None = None, release_input: bool = False, **options) -> CompileResult:
    """Compile ``network`` for ``target`` (a name, a path to a target TOML, or a ``Target``).

    Returns a :class:`~neuromap.compiler.result.CompileResult`: ``.image`` (the hardware image),
    ``.reports`` (typed, per pass), ``.passes`` (per pass its options, statistics, wall time, peak memory).
    ``options`` (:class:`~neuromap.compiler.result.CompileOptions`; an unknown name is a one-line
    TargetError) are recorded in the image as given; ``passes`` (list of pass names) selects/reorders
    passes; ``rate_check`` (auto | always | never) when the fidelity report estimates the rate error on a
    short float-vs-chip sample (:mod:`neuromap.compiler.fidelity`). ``runner`` runs an image
    (:data:`~neuromap.compiler.result.ImageRunner`) for ``rates: auto`` and the rate sample; the compiler
    imports no runtime, so without one ``rates: auto`` and ``rate_check: always`` raise and ``auto``
    records the estimate as skipped (:func:`neuromap.toolchain.compile_network` passes the emulator).
    ``progress`` is called as ``progress(done, n_passes * PASS_UNITS)``: ``done`` is ``(i + 1) * PASS_UNITS``
    after pass i and moves in between when the pass reports (placement phases); its ``label`` (if any,
    :func:`neuromap.progress.set_label`) names the running pass.

    ``release_input=True`` hands ``network`` over to the compile, for callers that do not use it again (the
    full-scale microcircuit's float weights alone are 2.4 GB): once a pass has replaced it (``quantize``, or a
    legalization), ``network.projections`` is emptied, so its arrays and the copies the legalizations made
    from them can be freed, and the result has no ``quantized_network`` (the passes' intermediate networks
    are not kept). The image is the same; the fidelity report's counts are taken before the release, and its
    float-vs-chip rate sample, which runs the float network, is refused (``rate_check='always'``) or recorded
    as skipped (``auto``). Default False: the caller's network is never changed.
    """
    opts = CompileOptions.from_kwargs(options)
    if release_input and opts.rate_check == "always":
        raise TargetError("release_input: rate_check 'always' runs the float network after the compile, which "
                          "release_input frees (use rate_check 'auto' or 'never', or release_input=False)")
    tgt = target if isinstance(target, Target) else load_target(target)
    kind = core_kind(tgt)
    if kind == "loihi_lif":
        lif_arithmetic(tgt)          # refuses, naming the field, a target whose arithmetic the emulator lacks
    by_name = {p.name: p for p in PASSES + EXTRA_PASSES if kind in p.kinds}
    names = list(opts.passes or default_passes(kind))
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise TargetError(f"unknown compiler pass {unknown[0]!r} (passes: {', '.join(by_name)})")
    opts = dataclasses.replace(opts, passes=tuple(names))
    st = CompileState(network, tgt, opts, runner=runner)
    records = []
    released = None         # release_input: the input's nonzero counts per projection, once it is released
    for i, name in enumerate(names):
        p = by_name[name]
        run, verify = p.kinds[kind]
        st = dataclasses.replace(st, progress=_pass_progress(progress, i, len(names), name))
        t0 = time.perf_counter()
        before, st = st, run(st)
        if release_input:
            st, released = _release_input(network, st, released)
        st.analyses.after_pass(before, st)          # drop the analyses whose inputs the pass replaced
        t1 = time.perf_counter()
        verify(st)
        st.analyses.release_unused(names[i + 1:])     # analyses no later pass reads (the synapse graph)
        records.append(PassRecord(name, "pass", _declared(opts, p.options), p.statistics(st), t1 - t0,
                                  peak_rss_bytes(), time.perf_counter() - t1))
        if progress is not None:
            progress((i + 1) * PASS_UNITS, len(names) * PASS_UNITS)
    if st.image is None:
        raise TargetError("the pass list did not end with lower (no image produced)")
    # analysis: what the compile lost, with numbers (neuromap/compiler/fidelity.py)
    t0 = time.perf_counter()
    fidelity = fidelity_report(network, tgt, st.reports, st.image, opts.rate_check, runner, nonzero=released)
    reports = dataclasses.replace(st.reports, fidelity=fidelity)
    rate = fidelity.rate
    records.append(PassRecord("fidelity", "analysis", _declared(opts, ("rate_check",)),
                              [Statistic("synapses_lost", fidelity.synapses_zeroed + fidelity.synapses_dropped),
                               Statistic("approximations", len(fidelity.approximations)),
                               Statistic("rate_sample_steps", rate.steps if rate is not None else 0, "steps")],
                              time.perf_counter() - t0, peak_rss_bytes(), 0.0))
    st.image.options = {**opts.recorded(), **reports.to_options()}
    st.image.pass_records = [r.to_dict() for r in records]
    return CompileResult(st.image, opts, reports, records, st.quantized_network)
