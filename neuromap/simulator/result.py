"""The output of :func:`neuromap.simulate`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SimResult:
    """Everything a run produced.

    spikes: population -> (step int64[k], index int64[k]) sorted by step, then index.
    traces: population -> variable -> float64[steps, n_recorded] (value after each step).
    trace_neurons: population -> recorded neuron indices.
    weights: projection name -> final float64 weights, aligned with the Projection's arrays.
    rates: population -> mean rate per neuron over the run (Hz).
    """

    steps: int
    dt: float
    backend: str
    spikes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    traces: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    trace_neurons: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    rates: dict[str, np.ndarray] = field(default_factory=dict)

    def spike_counts(self, population: str, size: int | None = None) -> np.ndarray:
        """Spikes per neuron of ``population``."""
        idx = self.spikes[population][1]
        n = size if size is not None else len(self.rates[population])
        return np.bincount(idx, minlength=n)
