"""The compile pipeline: a list of small pure passes over a :class:`CompileState`, a verifier after each.

A pass takes the state and returns a new one (``dataclasses.replace``); its
verifier checks what the pass promised and raises a one-line
:class:`~neuromap.errors.TargetError` otherwise. Add a pass by inserting a
:class:`Pass` into :data:`PASSES`; ``options["passes"]`` may name a subset/order.

Current passes (hardware-unit networks):

1. ``check_hw_units``: every neuron population is ``loihi_lif``, inputs are
   ``spike_source``/``poisson``, the target runs these models, delays fit.
2. ``place``: partition neurons into cores under every capacity of the target, place
   cores on the mesh, route (``placer`` sequential | greedy | cpsat; docs/placement.md).
3. ``lower``: build the :class:`~neuromap.image.Image` (:mod:`neuromap.compiler.lower`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from neuromap.errors import TargetError
from neuromap.compiler.arithmetic import is_loihi, lif_arithmetic
from neuromap.image import MAX_DELAY, Image
from neuromap.network import Network
from neuromap.plasticity import hardware_rules as _hardware_rules

#: models of neuron populations the hardware-unit path compiles, and of input populations
HW_NEURON_MODELS = ("loihi_lif",)
INPUT_MODELS = ("spike_source", "poisson")


@dataclass(frozen=True)
class CompileState:
    """What the passes share. ``placement``: population name -> (core, slot) int arrays."""

    network: Network
    target: Any                      # neuromap.targets.Target
    options: dict[str, Any] = field(default_factory=dict)
    placement: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
    image: Image | None = None
    #: progress within the running pass, ``progress(done, total)`` (+ ``label``; :mod:`neuromap.progress`), or None
    progress: Callable | None = None


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[CompileState], CompileState]
    verify: Callable[[CompileState], None]


# ------------------------------------------------------------------ pass 1: check hardware units
def check_hw_units(st: CompileState) -> CompileState:
    net, tgt = st.network, st.target
    where = f"{net.source}: " if net.source else ""
    quantized = {p["name"] for p in (st.options.get("quantization") or {}).get("populations", [])}
    for name, pop in net.populations.items():
        if pop.model not in HW_NEURON_MODELS + INPUT_MODELS:
            raise TargetError(f"{where}populations.{name}.neuron.model: {pop.model!r} is not in hardware units "
                              f"(the quantize pass is not available yet; use loihi_lif with du, dv, vth, bias_mant, bias_exp)")
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


# ------------------------------------------------------------------ pass 2: place
# neuromap/compiler/place.py (``place_pass`` / ``verify_place``): partition under every capacity,
# mesh placement, routes, PlacementReport in options["placement"] (docs/placement.md)


# ------------------------------------------------------------------ legacy pass: partition (fill in order; only by name)
def partition(st: CompileState) -> CompileState:
    cap = int(st.target.core.max_neurons)
    placement, n = {}, 0
    for name, pop in st.network.populations.items():
        if pop.model in INPUT_MODELS:
            continue
        g = np.arange(n, n + pop.size, dtype=np.int64)
        placement[name] = (g // cap, g % cap)
        n += pop.size
    return dataclasses.replace(st, placement=placement)


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


# ------------------------------------------------------------------ pass 3: lower
def lower(st: CompileState) -> CompileState:
    from neuromap.compiler.lower import lower_to_image
    return dataclasses.replace(st, image=lower_to_image(st.network, st.target, st.placement, st.options))


def _verify_image(st: CompileState) -> None:
    if st.image is None:
        raise TargetError("lower produced no image")
    st.image.verify()
    if st.image.n_cores > st.target.n_cores:
        raise TargetError(f"the network needs {st.image.n_cores} cores, more than target {st.target.name!r} has")


# -- front half (issue 6, neuromap/compiler/{check,quantize,fan_in}.py): float network -> hardware units
from neuromap.compiler import check as _check, fan_in as _fan_in, quantize as _quantize  # noqa: E402
from neuromap.compiler import place as _place  # noqa: E402
from neuromap.compiler.quantize_learning import SUPPORTED_RULES as _LEARNING_RULES  # noqa: E402


def _check_with_learning(st: CompileState) -> CompileState:
    """Pass ``check`` with the plasticity rules the quantize pass maps onto integer engines."""
    problems = _check.check_compatibility(st.network, st.target, _LEARNING_RULES)
    return dataclasses.replace(st, options={**st.options, "compatibility": [p.to_dict() for p in problems]})


PASSES: list[Pass] = [
    Pass("check", _check_with_learning, _check.verify_check_pass),
    Pass("quantize", _quantize.quantize_pass, _quantize.verify_quantized),
    Pass("legalize_fan_in", _fan_in.fan_in_pass, _fan_in.verify_fan_in),
    # -- end front half
    Pass("check_hw_units", check_hw_units, _verify_checked),
    # -- placement (issue 8, neuromap/compiler/place.py)
    Pass("place", _place.place_pass, _place.verify_place),
    # -- end placement
    Pass("lower", lower, _verify_image),
]

# -- TrueNorth (issue 7, neuromap/compiler/lower_truenorth.py): the default passes of crossbar targets
from neuromap.compiler import lower_truenorth as _tn  # noqa: E402

TN_PASSES: list[Pass] = [Pass("tn_quantize", _tn.quantize_pass, _tn.verify_quantized),
                         Pass("tn_place", _tn.place_pass, _tn.verify_place),
                         Pass("tn_lower", _tn.lower_pass, _tn.verify_lowered)]
# -- end TrueNorth

#: passes that run only when named in ``options["passes"]`` (e.g. ``["check_hw_units", "partition", "lower"]``)
EXTRA_PASSES: list[Pass] = [Pass("partition", partition, _verify_partition)]


#: progress units per compiler pass
PASS_UNITS = 1000


def _pass_progress(progress, i: int, n: int, name: str):
    """Progress of pass ``i`` of ``n``: ``(d, t)`` -> ``(i * PASS_UNITS + d * PASS_UNITS // t, n * PASS_UNITS)``,
    its label prefixed with the pass name."""
    if progress is None:
        return None
    from neuromap.progress import set_label
    set_label(progress, name)

    def inner(done: int, total: int) -> None:
        progress(i * PASS_UNITS + min(PASS_UNITS - 1, int(done) * PASS_UNITS // max(int(total), 1)), n * PASS_UNITS)

    inner.label = lambda text: set_label(progress, f"{name}: {text}" if text else name)
    return inner


def compile_network(network: Network, target: Any = "loihi", **options) -> Image:
    """Compile ``network`` for ``target`` (a name, a path to a target TOML, or a ``Target``) into an Image.

    ``options`` are recorded in the image; ``passes`` (list of pass names) selects/reorders passes;
    ``rate_check`` (auto | always | never) when the fidelity report (``options["fidelity"]``) estimates
    the rate error on a short float-vs-chip sample (:mod:`neuromap.compiler.fidelity`);
    ``progress`` (not recorded) is called as ``progress(done, n_passes * PASS_UNITS)``: ``done`` is
    ``(i + 1) * PASS_UNITS`` after pass i and moves in between when the pass reports (placement phases);
    its ``label`` (if any, :func:`neuromap.progress.set_label`) names the running pass.
    """
    progress = options.pop("progress", None)
    from neuromap.targets import Target, load_target
    tgt = target if isinstance(target, Target) else load_target(target)
    default = TN_PASSES if _tn.is_truenorth(tgt) else PASSES
    if default is PASSES:
        lif_arithmetic(tgt)          # refuses, naming the field, a target whose arithmetic the emulator lacks
    by_name = {p.name: p for p in default + EXTRA_PASSES}
    names = options.get("passes") or [p.name for p in default]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise TargetError(f"unknown compiler pass {unknown[0]!r} (passes: {', '.join(by_name)})")
    st = CompileState(network, tgt, dict(options, passes=list(names)))
    for i, name in enumerate(names):
        p = by_name[name]
        st = dataclasses.replace(st, progress=_pass_progress(progress, i, len(names), name))
        st = p.run(st)
        p.verify(st)
        if progress is not None:
            progress((i + 1) * PASS_UNITS, len(names) * PASS_UNITS)
    if st.image is None:
        raise TargetError("the pass list did not end with lower (no image produced)")
    # what the compile lost, with numbers (neuromap/compiler/fidelity.py); rate_check: auto | always | never
    from neuromap.compiler.fidelity import fidelity_report
    st.image.options["fidelity"] = fidelity_report(network, tgt, st.image, options.get("rate_check", "auto")).to_dict()
    return st.image
