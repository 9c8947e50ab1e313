"""Counter-based pseudo-random numbers for TrueNorth-style cores.

Every random number the TrueNorth neuron model uses is a pure function of
``(seed, core, neuron, tick, purpose, index)``, so a run is reproducible and
does not depend on the order in which neurons, axons or cores are evaluated
(scalar loops, numpy vectors and numba kernels draw the same numbers).

Generator
---------
``h = 0``; then each field ``v`` (seed, core, neuron, tick, purpose, index, in
that order, each taken mod 2**64) is absorbed as ::

    h = mix64(((h XOR v) + GOLDEN) mod 2**64)

where ``GOLDEN = 0x9E3779B97F4A7C15`` and ``mix64`` is the SplitMix64
finalizer (Steele, Lea & Flood 2014)::

    x = (x XOR (x >> 30)) * 0xBF58476D1CE4E5B9   mod 2**64
    x = (x XOR (x >> 27)) * 0x94D049BB133111EB   mod 2**64
    x =  x XOR (x >> 31)

The 64-bit result ``h`` is turned into the model's numbers:

* ``rho8(h) = h >> 56``: 8-bit uniform number 0..255 (stochastic synapse and
  stochastic leak comparisons, Cassidy et al. 2013 eq. 2/3),
* ``rho32(h) = h >> 32``: 32-bit uniform number; the threshold draw is
  ``eta = rho32 & M`` with the neuron's mask ``M = 2**TM - 1`` (eq. 4).

Purposes: :data:`SYNAPSE` (index = core-local axon ``i``), :data:`LEAK` and
:data:`THRESHOLD` (index 0).

Three implementations agree bit for bit (tested): :func:`draw_py` (Python
ints, used by the scalar reference), :func:`draw_np` (numpy uint64 arrays,
broadcasting) and :func:`draw_nb` (numba, scalar, for compiled kernels).
"""
from __future__ import annotations

import numba
import numpy as np

SYNAPSE = 1
LEAK = 2
THRESHOLD = 3

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


# ------------------------------------------------------------------ python
def _mix_py(x: int) -> int:
    x = ((x ^ (x >> 30)) * _C1) & _M64
    x = ((x ^ (x >> 27)) * _C2) & _M64
    return x ^ (x >> 31)


def draw_py(seed: int, core: int, neuron: int, tick: int, purpose: int, index: int = 0) -> int:
    """The 64-bit draw for one (seed, core, neuron, tick, purpose, index), as a Python int."""
    h = 0
    for v in (seed, core, neuron, tick, purpose, index):
        h = _mix_py((((h ^ (int(v) & _M64)) + _GOLDEN) & _M64))
    return h


# ------------------------------------------------------------------- numpy
_U = np.uint64


def _mix_np(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _U(30))) * _U(_C1)
    x = (x ^ (x >> _U(27))) * _U(_C2)
    return x ^ (x >> _U(31))


def draw_np(seed, core, neuron, tick, purpose, index=0) -> np.ndarray:
    """Vectorized :func:`draw_py`: arguments broadcast; returns uint64 array (at least 1-d)."""
    fields = [np.atleast_1d(np.asarray(v)).astype(np.uint64)  # negative -> mod 2**64
              for v in (seed, core, neuron, tick, purpose, index)]
    with np.errstate(over="ignore"):
        h = np.zeros(np.broadcast_shapes(*(f.shape for f in fields)), dtype=np.uint64)
        for f in fields:
            h = _mix_np((h ^ f) + _U(_GOLDEN))
    return h


# ------------------------------------------------------------------- numba
@numba.njit(cache=True, inline="always")
def _mix_nb(x):
    x = (x ^ (x >> numba.uint64(30))) * numba.uint64(_C1)
    x = (x ^ (x >> numba.uint64(27))) * numba.uint64(_C2)
    return x ^ (x >> numba.uint64(31))


@numba.njit(cache=True)
def draw_nb(seed, core, neuron, tick, purpose, index):
    """Compiled scalar :func:`draw_py` (all arguments non-negative integers); returns uint64."""
    g = numba.uint64(_GOLDEN)
    h = numba.uint64(0)
    h = _mix_nb((h ^ numba.uint64(seed)) + g)
    h = _mix_nb((h ^ numba.uint64(core)) + g)
    h = _mix_nb((h ^ numba.uint64(neuron)) + g)
    h = _mix_nb((h ^ numba.uint64(tick)) + g)
    h = _mix_nb((h ^ numba.uint64(purpose)) + g)
    h = _mix_nb((h ^ numba.uint64(index)) + g)
    return h


def rho8(h):
    """8-bit uniform number 0..255 from a 64-bit draw (top byte)."""
    return h >> (np.uint64(56) if isinstance(h, np.ndarray) else 56)


def rho32(h):
    """32-bit uniform number from a 64-bit draw (top half)."""
    return h >> (np.uint64(32) if isinstance(h, np.ndarray) else 32)
