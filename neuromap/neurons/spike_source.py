"""``spike_source``: neurons that spike at explicit times.

``times``: one list of spike times (ms) per neuron, e.g. ``[[1.0, 5.0], [], [2.0]]``;
a time t is emitted at step ``round(t / dt)`` (several times in one step count once).
"""
from __future__ import annotations

import math

import numpy as np

from neuromap.errors import NetworkFormatError
from neuromap.input_limits import MAX_TIME_MS

PARAMS: dict = {}  # ``times`` is checked by validate_times (a list of lists, not a Param kind)
EXTRA = ("times",)
STATE = ()
TARGETS: dict = {}
N_CHANNELS = 0


def validate_times(times, size: int, field: str) -> list[list[float]]:
    """Check ``times`` (list of ``size`` lists of finite times >= 0 ms); one-line NetworkFormatError otherwise."""
    if not isinstance(times, (list, tuple)) or len(times) != size:
        raise NetworkFormatError(f"needs one list of spike times per neuron ({size})", field=field,
                                 fix="give times: [[t, ...], ...] in ms")
    out = []
    for n, row in enumerate(times):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise NetworkFormatError(f"{row!r} is not a list of times", field=f"{field}[{n}]")
        vals = []
        for k, t in enumerate(row):
            if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(t)) or t < 0:
                raise NetworkFormatError(f"{t!r} is not a time >= 0", field=f"{field}[{n}][{k}]", fix="use ms >= 0")
            if t > MAX_TIME_MS:
                raise NetworkFormatError(f"time {float(t):g} ms is beyond {MAX_TIME_MS:g} ms",
                                         field=f"{field}[{n}][{k}]", fix="spike times are in ms")
            vals.append(float(t))
        out.append(vals)
    return out


class Source:
    """All spikes of the population, served window by window."""

    def __init__(self, params: dict, size: int, dt: float, rng: np.random.Generator | None = None):
        times = validate_times(params.get("times", [[] for _ in range(size)]), size, "neuron.times")
        pairs = {(int(round(t / dt)), n) for n, row in enumerate(times) for t in row}
        arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
        self.steps, self.idx = arr[:, 0].copy(), arr[:, 1].copy()

    def events(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(self.steps, [t0, t1])
        return self.steps[lo:hi], self.idx[lo:hi]
