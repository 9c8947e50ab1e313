"""The output of :func:`neuromap.simulate`."""
from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

import numpy as np


class SpikeRecord(MutableMapping):
    """population -> (step int64[k], index int64[k]). Entries given as a zero-argument callable (the input
    populations: their events are drawn again from the seed, not kept during the run) are produced on first
    access and kept."""

    def __init__(self):
        self._d: dict = {}

    def __getitem__(self, name):
        v = self._d[name]
        if callable(v):
            v = self._d[name] = v()
        return v

    def __setitem__(self, name, value) -> None:
        self._d[name] = value

    def __delitem__(self, name) -> None:
        del self._d[name]

    def __iter__(self):
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def later(self, name: str, make: Callable[[], tuple[np.ndarray, np.ndarray]]) -> None:
        """Set ``name`` to what ``make()`` returns, computed on first access."""
        self._d[name] = make


@dataclass
class SimResult:
    """Everything a run produced.

    spikes: population -> (step int64[k], index int64[k]) sorted by step, then index (a
        :class:`SpikeRecord`; an input with several events in a step appears once per event).
    traces: population -> variable -> float64[steps, n_recorded] (value after each step).
    trace_neurons: population -> recorded neuron indices.
    weights: projection name -> final float64 weights, aligned with the Projection's arrays (a static
        projection's are a read-only view of its own weight array).
    rates: population -> mean rate per neuron over the run (Hz).
    """

    steps: int
    dt: float
    backend: str
    spikes: SpikeRecord = field(default_factory=SpikeRecord)
    traces: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    trace_neurons: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    rates: dict[str, np.ndarray] = field(default_factory=dict)

    def spike_counts(self, population: str, size: int | None = None) -> np.ndarray:
        """Spikes per neuron of ``population``."""
        idx = self.spikes[population][1]
        n = size if size is not None else len(self.rates[population])
        return np.bincount(idx, minlength=n)
