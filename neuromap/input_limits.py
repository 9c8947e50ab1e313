"""Bounds on what a network description may ask for, checked before anything is allocated (SECURITY.md).

A network file is small; what it asks for need not be (``size: 2147483647``, ``delay: 1e9``, an
``all_to_all`` between two 100 000-neuron populations). Each request is estimated in bytes and refused,
with the number, when it cannot fit in half of the memory this process may use
(:func:`neuromap.image_files.memory_limit`: physical memory, or ``RLIMIT_AS`` if lower). The estimates
are lower bounds of what the simulator and the compiler allocate, so a refused request could never run.
"""
from __future__ import annotations

import numpy as np

from neuromap.errors import NetworkFormatError
from neuromap.image_files import memory_limit

#: ms per step: a step of less than a nanosecond or more than 1000 s is a unit mistake
DT_MIN_MS, DT_MAX_MS = 1e-6, 1e6
#: largest spike time (ms): 1e12 ms = 31.7 years; with dt >= 1e-6 ms the step stays below 2**63
MAX_TIME_MS = 1e12
#: bytes per neuron (state, parameters and per-neuron arrays of the simulator: well over 16 float64s)
BYTES_PER_NEURON = 128
#: bytes per synapse (pre, post, weight and delay as 64-bit values while realizing a projection)
BYTES_PER_SYNAPSE = 32
#: bytes per (delay slot, post neuron) of the simulator's delay ring (float64)
BYTES_PER_DELAY_SLOT = 8


def budget() -> int:
    """Bytes one request may need at most: half of :func:`~neuromap.image_files.memory_limit`."""
    return memory_limit() // 2


def check_fits(nbytes: float, what: str, field: str, fix: str) -> None:
    """Refuse ``what`` (needing ``nbytes``) when it exceeds :func:`budget`, with both numbers."""
    limit = budget()
    if nbytes > limit:
        raise NetworkFormatError(f"{what} needs about {nbytes / 2 ** 30:.3g} GiB, more than the "
                                 f"{limit / 2 ** 30:.3g} GiB this process may use", field=field, fix=fix)


def synapse_estimate(cspec: dict, n_pre: int, n_post: int) -> float:
    """Expected synapse count of a normalized connect spec before it is realized (matrix: dense size)."""
    rule = cspec.get("rule")
    try:
        if rule == "one_to_one":
            return float(min(n_pre, n_post))
        if rule == "fixed_probability":
            return float(cspec.get("p", 1.0)) * n_pre * n_post
        if rule == "fixed_indegree":
            return float(cspec.get("k", 0)) * n_post
        if rule == "list":
            return 0.0   # explicit pairs: already in memory, as long as the file that holds them
        if rule in ("conv", "pool"):   # at most one synapse per post neuron and kernel tap
            k = cspec.get("kernel_size", 1) if rule == "pool" else np.shape(cspec.get("kernel", 0))[1:]
            return float(n_post) * float(np.prod(k if isinstance(k, (list, tuple)) else [k, k]))
    except (TypeError, ValueError):
        return 0.0     # the rule's own check reports a bad parameter
    return float(n_pre) * n_post
