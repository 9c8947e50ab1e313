"""``poisson``: independent Poisson spike trains, one rate per neuron (Hz).

``p_j = rate_j * dt / 1000`` (:func:`events_per_step`) expected events of input ``j`` per step: a per-step
Bernoulli(p_j) train for ``p_j <= 1``, a Poisson(p_j) count of events per step above (multiplicity). The
events are a documented stream of :mod:`neuromap.poisson_stream` (docs/image-format.md, *Inputs*; per
input by default, the kind the image records), shared by the float reference and every image consumer: the
float reference numbers the Poisson populations of a network as one set of inputs (populations in network
order, members in order, ``seed`` = the network seed), exactly as the compiled image numbers them, so the
float run and the emulator see the same input events.
"""
from __future__ import annotations

import numpy as np

from neuromap.params import Param

# the stream itself, importable from here as before
from neuromap.poisson_stream import (  # noqa: F401
    MAX_PER_STEP,
    NEVER,
    PoissonStream,
    count,
    first_spikes,
    gap,
    log_stay,
    multi_rate,
    poisson_chunk,
    poisson_chunk_scan,
    stay_poisson,
)

PARAMS = {
    "rate": Param(10.0, lo=0.0, unit="Hz", per_neuron=True, doc="firing rate per neuron"),
}
STATE = ()
TARGETS: dict = {}
N_CHANNELS = 0


def events_per_step(rate, dt: float) -> np.ndarray:
    """float64 ``rate * dt / 1000``: expected events per step of each input (Hz, ms); > 1 means several
    events per step (multiplicity)."""
    return np.asarray(rate, np.float64) * dt / 1000.0
