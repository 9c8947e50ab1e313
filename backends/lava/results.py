"""What a Lava run of an image gives back: raw arrays in global indices (:class:`LavaRaw`) and the
emulator's :class:`~backends.emulator.Results` layout made from them (:func:`to_results`), for every core kind."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backends.emulator import Results, add_readouts
from emulator.traffic import traffic
from neuromap.image import Image


@dataclass
class LavaRaw:
    """Raw outputs in global indices: ``spikes`` (steps, N) bool of neurons, ``inputs`` (steps, I) bool,
    ``u``/``v`` (steps, len(probe)) int64 traces of the global neuron ids ``probe_u``/``probe_v``; plastic
    projections: ``weights`` (projection index -> stored weights in image synapse order after each step of
    ``weight_steps``), as :class:`emulator.RawRun`."""

    steps: int
    spikes: np.ndarray
    inputs: np.ndarray
    probe_u: np.ndarray
    u: np.ndarray
    probe_v: np.ndarray
    v: np.ndarray
    weight_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    weights: dict = field(default_factory=dict)   # projection index -> (len(weight_steps), S_k) int16

    def events(self) -> np.ndarray:
        """(k, 2) int64 rows (step, source id), sorted by step then source (inputs are N + input id; an input
        with several events in a step once per event)."""
        counts = np.concatenate([self.spikes.astype(np.int64), self.inputs.astype(np.int64)], axis=1)
        t, s = np.nonzero(counts)
        c = counts[t, s]
        return np.stack([np.repeat(t, c), np.repeat(s, c)], axis=1).astype(np.int64)


def to_results(image: Image, raw: LavaRaw) -> Results:
    """The emulator's :class:`~backends.emulator.Results` layout (per-population spikes, probed u/v)."""
    events = raw.events()
    core_spikes, link = traffic(image, events)
    res = Results(steps=raw.steps, spikes={}, core_spikes=core_spikes, link_spikes=link,
                  meta={"backend": "lava", "run_cfg": "Loihi2SimCfg(select_tag='fixed_pt')", "target": image.target,
                        "network": image.network_name, "source_hash": image.source_hash})
    N = image.n_neurons
    for pop in image.populations:
        base = pop.start + (0 if pop.kind == "neuron" else N)
        m = (events[:, 1] >= base) & (events[:, 1] < base + pop.size)
        res.spikes[pop.name] = np.stack([events[m, 0], events[m, 1] - base], axis=1).astype(np.int64)
    for pr in image.probes:
        pop = image.population(pr.population)
        local = np.arange(pop.size) if pr.neurons is None else np.asarray(pr.neurons, np.int64)
        for var, ids, tr in (("u", raw.probe_u, raw.u), ("v", raw.probe_v, raw.v)):
            if var in pr.variables:
                getattr(res, var)[pop.name] = tr[:, np.searchsorted(ids, pop.start + local)]
                res.neurons[pop.name] = local
    return add_readouts(image, res)
