"""Compare two runs of one image (emulator vs Lava) step by step and report the first divergence.

Runs are :class:`backends.emulator.Results` (per-population spikes ``(step, neuron)``, u/v traces of
probed neurons). Within a step the comparison order is u, v, spikes (the order a neuron computes
them), so the reported divergence is the earliest visible cause. Traffic counters follow from the
spikes and are compared last.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import backends.emulator as emulator_backend
import backends.lava.run as lava_run
from neuromap.core_kinds import image_core_kind
from neuromap.errors import ValidationMismatch
from neuromap.image import Image, ProbeMap
from neuromap.progress import PhaseTimes, scaled

_ORDER = {"u": 0, "v": 1, "spike": 2, "weight": 3}


@dataclass
class Divergence:
    """Where two runs first differ; ``a``/``b`` are the two runs' values (spikes: count 1/0)."""

    step: int
    what: str            # "u", "v", "spike", "weight"
    population: str      # for "weight": the projection
    neuron: int          # population-local index; for "weight": synapse index within the projection
    a: int
    b: int

    def describe(self, names: tuple[str, str]) -> str:
        where = (f"projection {self.population!r} synapse {self.neuron}" if self.what == "weight" else
                 f"population {self.population!r} neuron {self.neuron}")
        return f"first divergence at step {self.step}: {where} {self.what}: {names[0]} {self.a}, {names[1]} {self.b}"


def _spike_diff(pop: str, a: np.ndarray, b: np.ndarray) -> Divergence | None:
    """First (step, neuron) whose spike count differs between two (k, 2) event arrays."""
    def counts(ev):
        key = ev[:, 0].astype(np.int64) * (1 << 32) + ev[:, 1] if ev.size else np.zeros(0, np.int64)
        return np.unique(key, return_counts=True)
    (ka, ca), (kb, cb) = counts(a), counts(b)
    keys = np.union1d(ka, kb)
    na, nb = np.zeros(keys.size, np.int64), np.zeros(keys.size, np.int64)
    na[np.searchsorted(keys, ka)] = ca
    nb[np.searchsorted(keys, kb)] = cb
    bad = np.flatnonzero(na != nb)
    if bad.size == 0:
        return None
    k = int(keys[bad[0]])
    return Divergence(k >> 32, "spike", pop, k & 0xFFFFFFFF, int(na[bad[0]]), int(nb[bad[0]]))


def _trace_diff(pop: str, var: str, a, b) -> Divergence | None:
    ids_a, ta = a.neurons[pop], getattr(a, var)[pop]
    ids_b, tb = b.neurons[pop], getattr(b, var)[pop]
    common, ia, ib = np.intersect1d(ids_a, ids_b, return_indices=True)
    n = min(ta.shape[0], tb.shape[0])
    bad = np.argwhere(ta[:n, ia] != tb[:n, ib])
    if bad.size == 0:
        return None
    t, j = (int(x) for x in bad[0])
    return Divergence(t, var, pop, int(common[j]), int(ta[t, ia[j]]), int(tb[t, ib[j]]))


def _weight_diff(proj: str, a, b) -> Divergence | None:
    """First (recorded step, synapse) where the stored weights of plastic projection ``proj`` differ."""
    sa, sb = np.asarray(a.weight_steps), np.asarray(b.weight_steps)
    if not np.array_equal(sa, sb):
        raise ValidationMismatch(f"weights recorded at different steps: {sa.tolist()[:5]} vs {sb.tolist()[:5]}")
    bad = np.argwhere(a.weights[proj] != b.weights[proj])
    if bad.size == 0:
        return None
    r, j = (int(x) for x in bad[0])
    return Divergence(int(sa[r]), "weight", proj, j, int(a.weights[proj][r, j]), int(b.weights[proj][r, j]))


def first_divergence(a, b) -> Divergence | None:
    """The earliest difference between Results ``a`` and ``b`` on what both recorded, or None."""
    found = []
    for pop in sorted(set(a.spikes) | set(b.spikes)):
        z = np.zeros((0, 2), np.int64)
        found.append(_spike_diff(pop, a.spikes.get(pop, z), b.spikes.get(pop, z)))
        for var in ("u", "v"):
            if pop in getattr(a, var) and pop in getattr(b, var):
                found.append(_trace_diff(pop, var, a, b))
    wa, wb = getattr(a, "weights", {}), getattr(b, "weights", {})
    if set(wa) != set(wb):
        raise ValidationMismatch(f"plastic projections differ: {sorted(wa)} vs {sorted(wb)}")
    found += [_weight_diff(proj, a, b) for proj in sorted(wa)]
    found = [d for d in found if d is not None]
    return min(found, key=lambda d: (d.step, _ORDER[d.what], d.population, d.neuron)) if found else None


def check_identical(a, b, names: tuple[str, str] = ("emulator", "lava")) -> str:
    """The one-line success summary ``identical: N steps, K spikes`` (K = spikes of neurons and inputs),
    or :class:`ValidationMismatch` with the first divergence."""
    return summary_line(check_identical_summary(a, b, names))


def check_identical_summary(a, b, names: tuple[str, str] = ("emulator", "lava")) -> dict:
    """:func:`identical_summary` of two identical runs, or :class:`ValidationMismatch` (its ``divergence``
    attribute: the first :class:`Divergence` as a dict, None when the runs differ otherwise)."""
    if a.steps != b.steps:
        raise ValidationMismatch(f"runs differ in length: {names[0]} {a.steps} steps, {names[1]} {b.steps} steps")
    d = first_divergence(a, b)
    if d is not None:
        exc = ValidationMismatch(d.describe(names))
        exc.divergence = dataclasses.asdict(d)
        raise exc
    for key in ("core_spikes", "link_spikes"):
        if not np.array_equal(getattr(a, key), getattr(b, key)):
            raise ValidationMismatch(f"{key} differ although every spike matches: {names[0]} "
                                     f"{getattr(a, key).tolist()}, {names[1]} {getattr(b, key).tolist()}")
    return identical_summary(a)


def identical_summary(a) -> dict:
    """What two identical runs share: ``steps``, ``spikes`` (neurons and inputs), ``plastic_weights``
    (synapses compared) and ``weight_steps`` (steps at which they were compared)."""
    w = getattr(a, "weights", {})
    return {"steps": int(a.steps), "spikes": sum(int(s.shape[0]) for s in a.spikes.values()),
            "plastic_weights": sum(int(x.shape[1]) for x in w.values()),
            "weight_steps": len(a.weight_steps) if w else 0}


def summary_line(s: dict) -> str:
    """``identical: N steps, K spikes[, P plastic weights at S steps]`` from :func:`identical_summary`."""
    extra = f", {s['plastic_weights']} plastic weights at {s['weight_steps']} steps" if s["plastic_weights"] else ""
    return f"identical: {s['steps']} steps, {s['spikes']} spikes{extra}"


def probe_everything(image: Image) -> Image:
    """A copy of ``image`` that probes spikes and every state variable of its core kind (u and v; TrueNorth:
    V only) of every neuron (arrays shared, not copied)."""
    var = ("spikes",) + image_core_kind(image).state_variables
    probes = [ProbeMap(p.name, var, None) for p in image.populations if p.kind == "neuron"]
    return dataclasses.replace(image, probes=probes)


def validate_image(image: Image, steps: int, engine: str = "numba", probe_all: bool = False,
                   progress=None, weight_every: int = 10) -> str:
    """:func:`validate_image_summary` as the one-line success summary (``identical: N steps, ...``)."""
    return summary_line(validate_image_summary(image, steps, engine, probe_all, progress, weight_every))


def validate_image_summary(image: Image, steps: int, engine: str = "numba", probe_all: bool = False,
                           progress=None, weight_every: int = 10) -> dict:
    """Run ``image`` for ``steps`` steps on the emulator and in Lava (fixed_pt) and compare them.

    u/v are compared for the image's probed neurons (every neuron with ``probe_all``); the stored
    weights of plastic projections every ``weight_every`` steps and after the last. Returns
    :func:`identical_summary` plus ``time_split_s`` (wall seconds of the phases ``lava``, ``emulator`` and
    ``compare``); raises :class:`ValidationMismatch` with the first divergence. ``progress(done, 2 * steps)``:
    the Lava run's segments count up to ``steps``, then the emulator's chunks (:mod:`neuromap.progress`)."""
    if probe_all:
        image = probe_everything(image)
    else:  # spikes are recorded for every neuron anyway; keep the probes that trace u or v
        image = dataclasses.replace(image, probes=[p for p in image.probes if {"u", "v"} & set(p.variables)])
    kw = {"weight_every": weight_every} if any(pm.learning for pm in image.projections) else {}
    # Lava first: image errors Lava cannot run surface before the emulator runs
    times = PhaseTimes()
    with times.phase("lava", progress):
        lava = lava_run.run(image, steps, **kw, **({} if progress is None else {"progress": scaled(progress, 0, 2 * steps)}))
    if progress is not None:
        progress(steps, 2 * steps)
    with times.phase("emulator", progress):
        emu = emulator_backend.run(image, steps, engine=engine, progress=scaled(progress, steps, 2 * steps), **kw)
    with times.phase("compare", progress):
        summary = check_identical_summary(emu, lava)
    return {**summary, "time_split_s": times.as_dict()}
