"""Compatibility check: every population, projection and plasticity rule against the target, all at once.

:func:`find_problems` lists every :class:`Problem` (item, reason, nearest supported
alternative, severity). :func:`check_compatibility` raises one
:class:`~neuromap.errors.TargetError` whose message counts the errors and names the
first, with the full list on ``.problems`` (the CLI prints them all); it returns the
non-fatal ``approximation`` problems (what compiles but computes differently).
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neuromap.errors import NetworkFormatError, TargetError
from neuromap.network import Network
from neuromap.placement.graph import pairs_increasing
from neuromap.plasticity import hardware_rules, rule_class

#: float models the quantize pass maps onto ``loihi_lif``; inputs pass through
QUANTIZABLE = ("lif", "if", "two_compartment")
INPUTS = ("poisson", "spike_source")
#: nearest supported alternative per unsupported neuron model
NEAREST = {
    "izhikevich": "lif (fit tau_m and v_th to the f-I curve; adaptation and bursting are lost)",
    "eif": "lif (v_th at the EIF spike-initiation voltage v_t + delta_t; the exponential upswing is lost)",
    "truenorth": "if (TrueNorth's linear-leak neuron in float units)",
    "lif": "if (no decay) or a target with exponential decays",
    "loihi_lif": "lif (float units; the quantize pass maps it onto each target)",
    "adex": "lif (v_th at AdEx's V_T; adaptation, the exponential upswing and the spike shape are lost)",
}
#: nearest learning-engine rule for float rules without an integer engine
RULE_NEAREST: dict[str, str] = {}      # (pool_esn compiles now: pool_stdp + an embedded-core controller)
#: lif/if parameters loihi_lif holds once per neuron group (du, dv, vth; v resets to 0): per-neuron values
#: compile as groups of one population (:func:`neuromap.compiler.quantize.uniform_groups`)
SHARED = {"lif": ("tau_m", "tau_syn", "v_th", "v_reset"), "if": ("v_th", "v_reset")}


@dataclass
class Problem:
    """One thing the target cannot do: ``severity`` ``error`` (cannot compile) or ``approximation``."""

    item: str
    reason: str
    alternative: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.item}: {self.reason} (nearest supported: {self.alternative})"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _delay_bounds(target: Any) -> tuple[int, int]:
    return max(1, target.synapse.delay_min), target.synapse.delay_max


def _repeated_pair_delays(pr, n_post: int) -> bool:
    """Two synapses of projection ``pr`` between one (pre, post) pair with different delays. O(synapses)
    when the synapses are in the connect rules' post-major order without repeated pairs (every
    (post, pre) key above the one before: no pair repeats); otherwise one stable sort."""
    pre, post = np.asarray(pr.pre_idx), np.asarray(pr.post_idx)
    if pre.size < 2:
        return False
    n_pre = int(pre.max()) + 1
    if pairs_increasing(post, pre, n_pre):
        return False
    key = pre.astype(np.int64) * (n_post + 1) + post
    order = np.argsort(key, kind="stable")
    ks, ds = key[order], pr.delay[order]
    return bool(np.any((ks[1:] == ks[:-1]) & (ds[1:] != ds[:-1])))


def find_problems(network: Network, target: Any, learning_rules: tuple[str, ...] = ()) -> list[Problem]:
    """Every problem of ``network`` on ``target``, in network order.

    ``learning_rules``: rules the learning engine can run; a plastic projection with another rule
    on a learning target compiles with frozen weights (an ``approximation``).
    """
    out: list[Problem] = []
    tn = target.name
    runs = set(target.neuron.models)
    hw_path = "loihi_lif" in runs
    for name, pop in network.populations.items():
        item = f"populations.{name}"
        m = pop.model
        if m in runs and m in QUANTIZABLE and not hw_path and target.core.memory_model != "crossbar":
            out.append(Problem(f"{item}", f"model {m!r} compiles onto loihi_lif cores (quantized), and {tn!r} does "
                               "not list loihi_lif in neuron.models", f"add \"loihi_lif\" to neuron.models of {tn!r}"))
            continue
        if m not in runs or (m not in INPUTS and m != "loihi_lif" and not (hw_path and m in QUANTIZABLE)):
            alt = NEAREST.get(m, "one of " + ", ".join(sorted(runs)))
            out.append(Problem(item, f"model {m!r} cannot run on {tn!r} (it runs {', '.join(target.neuron.models)})",
                               alt))
            continue
        if m in SHARED:   # per-neuron values: the quantize pass splits the population into groups (uniform_groups)
            if not float(np.min(pop.neuron["v_th"])) > float(np.max(pop.neuron["v_reset"])):
                out.append(Problem(f"{item}.v_th", "threshold not above reset; hardware neurons reset to 0 and "
                                   "fire above a positive threshold", "v_th > v_reset"))
            refr = int(np.max(np.asarray(pop.neuron.get("refractory", 0))))
            rmax = target.neuron.refractory_max
            if refr > rmax:
                out.append(Problem(f"{item}.refractory", f"{refr} steps exceeds the {tn} core's {rmax}, so it is "
                                   f"shortened to {rmax}", f"refractory: {rmax} (rates above "
                                   f"{1000.0 / (refr * network.dt):g} Hz will differ)", "approximation"))
    multi = _multi_event_inputs(network)
    if getattr(target.core, "memory_model", "") == "crossbar":
        for name, per_step in multi.items():
            out.append(Problem(f"populations.{name}.neuron.rate", f"{per_step:g} events per step at most; a "
                               f"{tn} axon takes one spike per step", _split_hint(name, per_step)))
    dmin, dmax = _delay_bounds(target)
    for k, pr in enumerate(network.projections):
        item = f"projections[{k}] ({pr.name})"
        if pr.n_synapses:
            lo, hi = int(pr.delay.min()), int(pr.delay.max())
            if lo < dmin or hi > dmax:
                bad = hi if hi > dmax else lo
                n_bad = int(np.sum((pr.delay < dmin) | (pr.delay > dmax)))
                out.append(Problem(f"{item}.delay", f"delay {bad} steps outside [{dmin}, {dmax}] on {tn!r} "
                                   f"({n_bad} of {pr.n_synapses} synapses)",
                                   f"delays <= {dmax}, or a relay neuron chain adding {dmax} steps per hop"))
            if _repeated_pair_delays(pr, network.populations[pr.post].size):
                out.append(Problem(f"{item}.delay", "two synapses between one neuron pair with different delays; "
                                   f"a {tn} projection holds one synapse per pair", "split the projection by delay"))
        if pr.plasticity is not None and pr.pre in multi:
            out.append(Problem(f"{item}.plasticity", f"pre population {pr.pre!r} emits up to {multi[pr.pre]:g} "
                               "events per step; learning engines count one pre spike per step",
                               _split_hint(pr.pre, multi[pr.pre])))
        if pr.plasticity is not None:
            rule = pr.plasticity["rule"]
            if rule in hardware_rules():
                out += _hardware_rule_problems(item, pr, rule, target)
            elif not target.learning.enabled:
                out.append(Problem(f"{item}.plasticity", f"{rule}: target {tn!r} has no on-chip learning",
                                   "remove plasticity (train offline, deploy frozen weights) or target loihi"))
            elif rule not in learning_rules:
                out.append(Problem(f"{item}.plasticity", f"{rule} is not mapped onto the {tn} learning engine; "
                                   "the weights are frozen at their initial values",
                                   RULE_NEAREST.get(rule, "stdp_loihi (hardware units) on the learning engine, "
                                                          "or train offline"), "approximation"))
    return out


def _multi_event_inputs(network: Network) -> dict[str, float]:
    """Poisson populations with more than one expected event per step (rate * dt / 1000 > 1): name -> the
    largest expected count per step."""
    out = {}
    for name, pop in network.populations.items():
        if pop.model == "poisson":
            per_step = float(np.max(np.asarray(pop.neuron.get("rate", 0.0), float), initial=0.0)) * network.dt / 1000
            if per_step > 1.0:
                out[name] = per_step
    return out


def _split_hint(name: str, per_step: float) -> str:
    k = int(np.ceil(per_step))
    return f"split {name} into {k} populations of 1/{k} of its rate each (one event per step at most)"


def _hardware_rule_problems(item: str, pr, rule: str, target: Any) -> list[Problem]:
    """A hardware-unit rule (``loihi``, ``stdp_loihi``) runs only on a learning engine, on a projection whose
    post population is in hardware units, and must parse (Lava rule syntax)."""
    where = (f"{rule} runs only on the Loihi learning engine (target loihi; the emulator and the Lava backend "
             "run it bit-identically, the float simulator does not)")
    if not target.learning.enabled:
        return [Problem(f"{item}.plasticity", f"{where}; target {target.name!r} has no such engine",
                        "target loihi, or a float rule (stdp) for float simulation")]
    if pr.hw is None:
        return [Problem(f"{item}.plasticity", f"{where}; it is in hardware units, but post population "
                        f"{pr.post!r} is not (loihi_lif)", "a loihi_lif post population, or stdp on float neurons")]
    try:
        rule_class(rule).learning_config(pr.plasticity, pr.hw, f"{item}.plasticity")
    except NetworkFormatError as e:
        return [Problem(e.field or f"{item}.plasticity", e.problem, e.fix or "a valid value of that parameter")]
    return []


def check_compatibility(network: Network, target: Any, learning_rules: tuple[str, ...] = ()) -> list[Problem]:
    """Raise one TargetError listing every error (``.problems``); return the approximations."""
    problems = find_problems(network, target, learning_rules)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        where = f"{network.source}: " if network.source else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        err = TargetError(f"{where}{len(errors)} problem{'s' if len(errors) > 1 else ''} mapping "
                          f"{network.name!r} onto {target.name!r}; first: {errors[0]}{more}")
        err.problems = errors
        raise err
    return problems


# ---------------------------------------------------------------------- compiler pass (neuromap.compiler.pipeline)
def check_pass(st, learning_rules: tuple[str, ...]):
    """Pass ``check``: raise on every error; record the approximations in ``reports.compatibility``
    (``learning_rules``: the float rules the quantize pass maps onto integer engines)."""
    problems = check_compatibility(st.network, st.target, learning_rules)
    return dataclasses.replace(st, reports=dataclasses.replace(st.reports, compatibility=problems))


def verify_check_pass(st) -> None:
    if any(p.severity == "error" for p in st.reports.compatibility or []):
        raise TargetError("check pass let an error through")
