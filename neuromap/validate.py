"""Compare two runs of one image (emulator vs Lava) step by step and report the first divergence.

A run is seen as ``(events, traces)``: events are ``(step, source id)`` rows (neurons ``0..N-1``,
inputs ``N..``), traces map ``"u"``/``"v"`` to ``(global neuron ids, (steps, len(ids)) values)``.
Within a step the order of comparison is u, v, spikes (the order the neuron computes them), so the
reported divergence is the earliest cause that is visible.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromap.errors import ValidationMismatch
from neuromap.image import Image


@dataclass
class RunView:
    """The comparable part of a run: spike events, u/v traces, and the learned weights (optional)."""

    steps: int
    events: np.ndarray                       # (k, 2) int64 (step, source id), sorted
    traces: dict[str, tuple[np.ndarray, np.ndarray]]
    weights: np.ndarray | None = None        # (S,) final synapse weights, when learning ran


@dataclass
class Divergence:
    """Where two runs first differ. ``a``/``b``: the values of the two runs (spikes: 1/0)."""

    step: int
    what: str            # "spike", "u", "v", "weight"
    population: str
    index: int           # population-local index (synapse index for weights)
    source: int          # global source / neuron id (synapse id for weights)
    a: int
    b: int

    def describe(self, names: tuple[str, str]) -> str:
        if self.what == "weight":
            return (f"first divergence: final weight of synapse {self.source} (projection {self.population!r}): "
                    f"{names[0]} {self.a}, {names[1]} {self.b}")
        return (f"first divergence at step {self.step}: population {self.population!r} neuron {self.index} "
                f"(source {self.source}) {self.what}: {names[0]} {self.a}, {names[1]} {self.b}")


def source_population(image: Image, source: int) -> tuple[str, int]:
    """(population name, local index) of a source id (``?`` when no population claims it)."""
    N = image.n_neurons
    kind, idx = ("neuron", source) if source < N else ("input", source - N)
    for p in image.populations:
        if p.kind == kind and p.start <= idx < p.start + p.size:
            return p.name, idx - p.start
    return "?", idx


def _event_counts(ev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = ev[:, 0].astype(np.int64) * (1 << 32) + ev[:, 1] if ev.size else np.zeros(0, np.int64)
    return np.unique(key, return_counts=True)


def _first_spike_diff(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    """(step, source, count in a, count in b) of the first (step, source) whose spike count differs."""
    (ka, ca), (kb, cb) = _event_counts(a), _event_counts(b)
    keys = np.union1d(ka, kb)
    na = np.zeros(keys.size, np.int64)
    nb = np.zeros(keys.size, np.int64)
    na[np.searchsorted(keys, ka)] = ca
    nb[np.searchsorted(keys, kb)] = cb
    bad = np.flatnonzero(na != nb)
    if bad.size == 0:
        return None
    k = int(keys[bad[0]])
    return k >> 32, k & 0xFFFFFFFF, int(na[bad[0]]), int(nb[bad[0]])


def first_divergence(image: Image, a: RunView, b: RunView) -> Divergence | None:
    """The earliest difference between ``a`` and ``b`` (u, then v, then spikes within a step; final
    weights last), or None when they are identical on everything both recorded."""
    found: list[tuple[int, int, Divergence]] = []
    for order, var in enumerate(("u", "v")):
        if var not in a.traces or var not in b.traces:
            continue
        ids_a, ta = a.traces[var]
        ids_b, tb = b.traces[var]
        common, ia, ib = np.intersect1d(ids_a, ids_b, return_indices=True)
        x, y = ta[:, ia], tb[:, ib]
        n = min(x.shape[0], y.shape[0])
        bad = np.argwhere(x[:n] != y[:n])
        if bad.size:
            t, j = (int(v) for v in bad[0])
            pop, loc = source_population(image, int(common[j]))
            found.append((t, order, Divergence(t, var, pop, loc, int(common[j]), int(x[t, j]), int(y[t, j]))))
    d = _first_spike_diff(a.events, b.events)
    if d is not None:
        t, s, ca, cb = d
        pop, loc = source_population(image, s)
        found.append((t, 2, Divergence(t, "spike", pop, loc, s, ca, cb)))
    if found:
        return min(found, key=lambda f: (f[0], f[1]))[2]
    if a.weights is not None and b.weights is not None:
        bad = np.flatnonzero(a.weights != b.weights)
        if bad.size:
            s = int(bad[0])
            pop = _projection_of_synapse(image, s)
            return Divergence(a.steps, "weight", pop, s, s, int(a.weights[s]), int(b.weights[s]))
    return None


def _projection_of_synapse(image: Image, syn: int) -> str:
    ax = int(np.searchsorted(image.axons["syn_ptr"], syn, side="right") - 1)
    return image.projections[int(image.axons["proj"][ax])].name


def check_identical(image: Image, a: RunView, b: RunView, names: tuple[str, str] = ("emulator", "lava")) -> str:
    """The one-line success summary, or :class:`ValidationMismatch` with the first divergence."""
    if a.steps != b.steps:
        raise ValidationMismatch(f"runs differ in length: {names[0]} {a.steps} steps, {names[1]} {b.steps} steps")
    d = first_divergence(image, a, b)
    if d is not None:
        raise ValidationMismatch(d.describe(names))
    n_spikes = int(np.count_nonzero(a.events[:, 1] < image.n_neurons)) if a.events.size else 0
    return f"identical: {a.steps} steps, {n_spikes} spikes"


def validate_image(image: Image, steps: int, engine: str = "numba", probe_all: bool = False) -> str:
    """Run ``image`` for ``steps`` steps on the emulator and in Lava (fixed_pt) and compare them.

    u/v are compared for the image's probed neurons (every neuron with ``probe_all``). Returns the
    success line; raises :class:`ValidationMismatch` with the first divergence."""
    from backends.lava.run import run_lava_raw
    from emulator import emulate

    probe = np.arange(image.n_neurons) if probe_all else None
    lava = run_lava_raw(image, steps, probe=probe)
    ids = np.union1d(lava.probe_u, lava.probe_v)
    emu = emulate(image, steps, engine, probe=ids)
    emu_view = RunView(emu.steps, emu.spikes, {"u": (emu.probe, emu.u), "v": (emu.probe, emu.v)})
    return check_identical(image, emu_view, lava.view())
