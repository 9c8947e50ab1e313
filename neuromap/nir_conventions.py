"""How each framework writes NIR, and how :mod:`neuromap.nir_io` reads it (table: ``docs/nir.md``).

NIR nodes are unitless ODEs; exporters differ in what a time unit is, whether a spike's input is
Euler-scaled (``h / tau``) or a direct jump, and how neurons reset (which NIR cannot say at all).
A :class:`Convention` records those choices for one producer; :func:`detect` finds the producer
from the graph's metadata (or, for snnTorch, from its fixed ``r = tau / 1e-4`` signature), and
:func:`time_constant_warnings` and :func:`weight_warnings` report, with numbers, graphs that would import to something
silent (time constants far below the step, weights that vanish, layers that can never spike).

Sources read (public code, 2026-12): ``snntorch/export_nir.py``, ``norse/torch/utils/export_nir.py``,
``sinabs/nir.py``, ``rockpool/nn/modules/torch/nir.py``, ``lava/lib/dl/netx/nir_lava.py``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromap.errors import NetworkFormatError


class NIRImportWarning(UserWarning):
    """Something in a NIR graph that imports, but very probably not as its author meant."""


@dataclass(frozen=True)
class Convention:
    """One producer's way of writing NIR.

    time_unit: ``"s"`` (one NIR time unit = 1000 ms), ``"step"`` (one unit = dt) or ``"s/step"`` (Norse 1.1
    writes ``tau = dt / tau_inv`` = dt * tau with dt in s: one unit = 1000 / dt_s ms = 1e6 / dt ms).
    dt_ms: the step the producer simulates with by default (ms), used when no dt is given.
    reset: ``"subtract"`` or ``"zero"``: the reset mechanism of its spiking neurons (NIR has no field).
    cuba_current: ``"nir"``: a spike adds ``w_in W h / tau_syn`` to CubaLIF's I (NIR's forward-Euler
    reference); ``"jump"``: it adds ``w_in W`` (the framework adds the weighted spike to its current
    directly), and an Affine bias ``b`` added every step settles I at ``w_in b tau_syn / h``.
    """

    name: str
    time_unit: str
    dt_ms: float
    reset: str
    cuba_current: str
    source: str
    #: ``exact``: the framework decays by exp(-h/tau) per step (NIR's ODE integrated exactly); ``euler``: by
    #: 1 - h/tau (forward Euler: snnTorch's beta, Norse's dt * tau_inv), read as tau' = -h / ln(1 - h/tau)
    #: and, for CubaLIF, the current reaching v as r (h/tau_mem) I per step
    decay: str = "exact"
    #: a spike into a LIF node: ``nir`` moves v by r W h/tau (NIR's Euler reading); ``jump`` by r W (Sinabs adds
    #: the weighted spike to v_mem directly, as its own NIR import builds it: norm_input=False)
    lif_input: str = "nir"
    #: ``subtract`` neurons: ``now`` subtracts the threshold at the spike (then it decays with v); ``next`` one step
    #: later without decaying it (snnTorch's reset_delay): read as a subtracted distance (v_th - v_reset)/a
    subtract_timing: str = "now"
    #: the spike condition: ``gt`` v > v_threshold (NIR, snnTorch's and Norse's Heaviside ``> 0``), ``ge``
    #: v >= v_threshold (Sinabs's SingleSpike/MultiSpike: ``v_mem - spike_threshold >= 0``)
    fires: str = "gt"
    #: how a CubaLIF's current reaches v: ``ode`` (NIR's equation, or the Euler form of ``decay``); ``decayed``:
    #: v += I after I has decayed by exp(-h/tau_syn) in the step (Rockpool's LIFTorch, whose exported
    #: r = tau_mem exp(-h/tau_mem)/h makes r (h/tau_mem)/exp(-h/tau_mem) = 1)
    current_to_v: str = "ode"

    def time_unit_ms(self, dt: float) -> float:
        if self.time_unit == "s/step":    # tau written as dt * tau (s^2 per step): one unit = 1000 / dt_s ms
            return 1e6 / float(dt)
        return 1000.0 if self.time_unit == "s" else float(dt)


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("nir", "s", 1.0, "zero", "nir",
               "NIR reference (nir/ir/neuron.py): forward Euler, spike = 1 for one step"),
    Convention("snntorch", "s", 0.1, "subtract", "nir", "snntorch/export_nir.py: dt = 1e-4 s hard-coded, "
               "tau = dt/(1-beta), r = tau/dt, w_in = tau_syn/dt, reset not written (default subtract)",
               decay="euler", subtract_timing="next"),
    Convention("norse", "s/step", 1.0, "zero", "jump", "norse/torch/utils/export_nir.py (Norse 1.1): tau = dt/"
               "tau_mem_inv with dt = 1e-3 s (dt * tau), r = 1, w_in = 1; Norse adds spikes to I and integrates "
               "with forward Euler", decay="euler"),
    Convention("sinabs", "step", 1.0, "subtract", "nir", "sinabs/nir.py: tau_mem in steps, r = 1, v_leak = 0, "
               "no v_reset; sinabs resets by MembraneSubtract; LIF adds W to v_mem (its NIR import: norm_input "
               "False); spikes at v_mem >= threshold", lif_input="jump", fires="ge"),
    Convention("rockpool", "s", 1.0, "subtract", "jump", "rockpool/nn/modules/torch/nir.py: LIFTorch -> CubaLIF, "
               "tau in s (dt 1e-3), r = tau exp(-dt/tau)/dt, w_in = 1; LIFTorch subtracts the threshold, spikes at "
               "v >= threshold (StepPWL), adds the decayed current to v", fires="ge", current_to_v="decayed"),
    Convention("lava-dl", "step", 1.0, "zero", "nir", "lava/lib/dl/netx/nir_lava.py: tau = 1/decay in steps, "
               "r = 1, v_leak = 0, w_in = tau_syn (a spike adds W to u), v_threshold = vThMant"),
    Convention("lava", "step", 1.0, "zero", "nir", "Lava 0.10 LIF (no exporter of its own): tau = 1/du, 1/dv "
               "in steps, v reset to 0"),
)}

#: metadata keys that may name the producer (nirtorch's model_name, hand-written graphs)
_PRODUCER_KEYS = ("producer", "framework", "exporter", "source", "library", "model_name", "generator")
#: snnTorch's hard-coded export step in seconds (snntorch/export_nir.py)
SNNTORCH_DT_S = 1e-4
#: Norse 1.1 writes tau = dt * tau_true (dt = 1e-3 s): a 100 ms time constant is 1e-4; seconds that small are
#: implausible for any other producer
NORSE_TAU_MAX = 1e-4
#: time constants of at least this many NIR units with r = 1 and no synaptic current: steps (sinabs), since a
#: membrane time constant of seconds is implausible
STEP_TAU_MIN = 1.0
#: a time constant more than this many steps long (read in the file's unit) is reported: probably the wrong unit
TAU_STEPS_MAX = 1e4


def convention(name: str) -> Convention:
    """The named convention; an unknown name is a one-line error listing the known ones."""
    key = str(name).strip().lower()
    if key not in CONVENTIONS:
        raise NetworkFormatError(f"unknown NIR convention {name!r}", field="nir_convention",
                                 fix="use one of " + ", ".join(CONVENTIONS))
    return CONVENTIONS[key]


def _text(v: Any) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("utf8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v.item())
    return v if isinstance(v, str) else None


def detect(graph: Any, nodes: dict[str, Any]) -> tuple[Convention, str]:
    """(convention, why) for a graph: named in its metadata, else snnTorch's parameter signature, else NIR's."""
    meta = getattr(graph, "metadata", None) or {}
    for key in _PRODUCER_KEYS:
        s = _text(meta.get(key)) if isinstance(meta, dict) else None
        if s:
            low = s.lower().replace("_", "-")
            for name in sorted(CONVENTIONS, key=len, reverse=True):   # lava-dl before lava
                if name != "nir" and name in low:
                    return CONVENTIONS[name], f"graph metadata {key} = {s!r}"
    neurons = [n for n in nodes.values() if type(n).__name__ in ("LIF", "CubaLIF")]
    if neurons and all(_snntorch_signature(n) for n in neurons):
        return CONVENTIONS["snntorch"], f"every LIF/CubaLIF has r = tau / {SNNTORCH_DT_S:g} (snnTorch's export)"
    spiking = [n for n in nodes.values() if type(n).__name__ in ("LIF", "IF", "CubaLIF", "LI")]
    if neurons and all(_sinabs_signature(n) for n in spiking):
        return CONVENTIONS["sinabs"], (f"only LIF/IF/LI nodes with r = 1, v_leak = 0 and every tau >= "
                                       f"{STEP_TAU_MIN:g} (sinabs's export writes tau in steps)")
    if neurons and all(_norse_signature(n) for n in neurons):
        return CONVENTIONS["norse"], (f"every LIF/CubaLIF has r = 1, w_in = 1 and tau below {NORSE_TAU_MAX:g} "
                                      "(Norse 1.1's export writes dt * tau)")
    if neurons and all(_rockpool_signature(n) for n in neurons):
        return CONVENTIONS["rockpool"], (f"every CubaLIF has r = tau_mem exp(-dt/tau_mem)/dt with dt = "
                                         f"{ROCKPOOL_DT_S:g} s and w_in = 1 (Rockpool's export)")
    return CONVENTIONS["nir"], "no producer named in the file"


#: Rockpool's default step in seconds (LIFTorch dt), which its exported r = tau_mem exp(-dt/tau_mem)/dt contains
ROCKPOOL_DT_S = 1e-3


def _rockpool_signature(node: Any) -> bool:
    if type(node).__name__ != "CubaLIF":
        return False
    tm = np.asarray(node.tau_mem, np.float64)
    r = tm * np.exp(-ROCKPOOL_DT_S / tm) / ROCKPOOL_DT_S
    return bool(np.all(np.asarray(node.w_in, np.float64) == 1)) and bool(
        np.allclose(np.asarray(node.r, np.float64), r, rtol=1e-5, atol=0))


def _sinabs_signature(node: Any) -> bool:
    kind = type(node).__name__
    if kind not in ("LIF", "IF", "LI") or not np.all(np.asarray(node.r, np.float64) == 1):
        return False
    if kind == "IF":
        return True
    return bool(np.all(np.asarray(node.v_leak, np.float64) == 0)) and bool(
        np.all(np.asarray(node.tau, np.float64) >= STEP_TAU_MIN))


def _norse_signature(node: Any) -> bool:
    kind = type(node).__name__
    tau = [np.asarray(node.tau if kind == "LIF" else node.tau_mem, np.float64)]
    if kind == "CubaLIF":
        tau.append(np.asarray(node.tau_syn, np.float64))
        if not np.all(np.asarray(node.w_in, np.float64) == 1):
            return False
    return bool(np.all(np.asarray(node.r, np.float64) == 1)) and all(bool(np.all((t > 0) & (t < NORSE_TAU_MAX)))
                                                                     for t in tau)


def _snntorch_signature(node: Any) -> bool:
    kind = type(node).__name__
    tau = np.asarray(node.tau if kind == "LIF" else node.tau_mem, np.float64)
    r = np.asarray(node.r, np.float64)
    ok = bool(np.allclose(r * SNNTORCH_DT_S, tau, rtol=1e-5, atol=0)) and bool(np.all(r > 1))
    if ok and kind == "CubaLIF":
        ok = bool(np.allclose(np.asarray(node.w_in, np.float64) * SNNTORCH_DT_S, np.asarray(node.tau_syn),
                              rtol=1e-5, atol=0))
    return ok


def time_constant_warnings(nodes: dict[str, Any], dt: float, unit: float, conv: Convention) -> list[str]:
    """One line per neuron node whose smallest time constant is more than 10x below dt."""
    out: list[str] = []
    for nname, node in nodes.items():
        kind = type(node).__name__
        for field in ("tau", "tau_mem", "tau_syn"):
            if not hasattr(node, field) or kind not in ("LIF", "CubaLIF", "LI", "CubaLI"):
                continue
            tau_ms = float(np.min(np.asarray(getattr(node, field), np.float64))) * unit
            top_ms = float(np.max(np.asarray(getattr(node, field), np.float64))) * unit
            if math.isfinite(top_ms) and top_ms > dt * TAU_STEPS_MAX:
                out.append(f"{nname}.{field}: {top_ms:.3g} ms is {top_ms / dt:.3g} steps of dt = {dt:g} ms (NIR time "
                           f"unit {unit:g} ms, convention {conv.name!r}): inputs barely move this layer; if the "
                           "exporter counts time in steps (sinabs, lava-dl) give its --nir-convention or "
                           "--time-unit step")
            if math.isfinite(tau_ms) and 0 < tau_ms < dt / 10:
                out.append(f"{nname}.{field}: {tau_ms:.3g} ms is {dt / tau_ms:.3g}x below dt = {dt:g} ms (NIR time "
                           f"unit {unit:g} ms, convention {conv.name!r}): the state decays to 0 within one step; "
                           "give the exporter's --nir-convention, --time-unit or --dt")
    return out


def if_only_warnings(nodes: dict[str, Any], dt: float, unit: float, conv: Convention) -> list[str]:
    """One line when every spiking node is an ``IF`` with ``r = 1`` and a spike would add ``W h`` with ``h`` not 1:
    Sinabs's IAF and Norse's IAFCell export exactly that, meaning a spike adds ``W`` (they count in steps), and the
    file has nothing else to tell them from NIR's reference reading (seconds), which makes the layers nearly deaf."""
    kinds = {type(n).__name__ for n in nodes.values()} - {"Input", "Output"}
    h = dt / unit
    if kinds != {"IF"} or h == 1.0 or not all(np.all(np.asarray(n.r, np.float64) == 1)
                                              for n in nodes.values() if type(n).__name__ == "IF"):
        return []
    return [f"every spiking node is an IF with r = 1 (what Sinabs's IAF and Norse's IAFCell export: a spike adds W), "
            f"read with convention {conv.name!r} (NIR time unit {unit:g} ms, dt {dt:g} ms) a spike adds "
            f"W h = {h:.3g} W; give --nir-convention sinabs (reset by subtraction) or norse (reset to zero)"]


def cuba_bias_warnings(nodes: dict[str, Any], bias_in: dict[str, Any], dt: float, unit: float) -> list[str]:
    """One line per CubaLIF node fed a nonzero Affine/conv bias: NIR's CubaLIF (and snnTorch's Synaptic, Norse's
    LIFCell) add the bias to the synaptic current, which starts at 0 and reaches its steady state over ~tau_syn;
    neuromap's ``lif`` drives v with the steady-state bias from step 0 (it has no initial current), so the first
    few tau_syn differ (measured on Norse: tests/fixtures/make_framework_fixtures.py, docs/nir.md)."""
    out = []
    for name, node in nodes.items():
        b = bias_in.get(name)
        if type(node).__name__ not in ("CubaLIF", "CubaLI") or b is None or not np.any(np.asarray(b) != 0):
            continue
        steps = float(np.max(np.asarray(node.tau_syn, np.float64))) * unit / dt
        out.append(f"{name}: its bias enters the synaptic current, which NIR starts at 0 (tau_syn ~ {steps:.3g} "
                   "steps to settle); neuromap applies the settled drive to v from step 0: spikes in the first few "
                   "tau_syn may differ from the framework's (move the bias after the current, or ignore the "
                   "start-up)")
    return out


def weight_warnings(net: Any) -> list[str]:
    """One line per projection too weak to ever make its target spike, and per layer that can never spike."""
    out: list[str] = []
    for proj in net.projections:
        w = np.asarray(proj.weight, np.float64)
        post = net.populations[proj.post]
        th = post.neuron.get("v_th")
        if post.model not in ("lif", "if") or th is None or not w.size:
            continue
        if float(np.min(np.asarray(th, np.float64))) >= np.finfo(np.float64).max:   # a readout (LI): never fires
            continue
        dist = float(np.min(np.asarray(th, np.float64) - np.asarray(post.neuron.get("v_reset", 0.0), np.float64)))
        biggest = float(np.max(np.abs(w)))
        if dist > 0 and biggest < dist * 1e-6:
            out.append(f"{proj.name}: the largest weight is {biggest:.3g}, {dist / biggest:.3g}x below the "
                       f"threshold distance {dist:.3g} of {proj.post!r}: it can never make it spike (check the "
                       "convention, time unit and dt)")
    fed = {p.post for p in net.projections}
    for pop in net.populations.values():
        if pop.model not in ("lif", "if") or pop.neuron.get("v_th", 0.0) is None:
            continue
        if pop.name in fed or pop.model != "lif":
            continue
        vinf = np.asarray(pop.neuron.get("v_rest", 0.0), np.float64) + np.asarray(pop.neuron.get("bias", 0.0))
        th = np.asarray(pop.neuron.get("v_th", 1.0), np.float64)
        if np.all(th < np.finfo(np.float64).max) and np.all(vinf < th):
            out.append(f"{pop.name}: no input and its resting level {float(np.max(vinf)):.3g} stays below its "
                       f"threshold {float(np.min(th)):.3g}: this layer can never spike")
    return out


def warn_all(lines: list[str], where: str = "") -> None:
    for line in lines:
        warnings.warn(f"{where}{line}", NIRImportWarning, stacklevel=3)


__all__ = ["Convention", "CONVENTIONS", "NIRImportWarning", "convention", "cuba_bias_warnings", "detect",
           "if_only_warnings",
           "time_constant_warnings",
           "weight_warnings"]
