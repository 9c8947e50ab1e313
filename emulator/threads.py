"""How many threads the numba engine runs a static image on when the caller does not say (``threads=None``).

The rule (docs/emulator.md, *Threads*):

1. One thread for programs under :data:`THREADS_MIN_SYNAPSES` synapses (a step's work is too small for the
   1-3 us per parallel region), when numba has no OpenMP/TBB threading layer (``workqueue`` costs ~100 us per
   region), or when numba may use only one thread.
2. Otherwise the run *measures*: it is cut into chunks anyway (results do not depend on the thread count, so
   any chunk may run on any count), and :class:`ThreadChooser` runs the first chunks alternately on one
   thread and on ``T`` threads (``T`` = numba's thread count), then holds whichever ran faster in wall time per
   step (``T`` only when at least :data:`MARGIN` faster), and measures again every :data:`HOLD` chunks,
   because the machine's load changes. A run too short to measure (fewer than two probe chunks) runs on one
   thread. So the default costs at most the probe chunks' difference over one thread, also on a loaded
   machine where a thread that loses its core stalls every step's barrier.
3. Idle OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless the user set it or
   ``GOMP_SPINCOUNT``), set before numba loads its OpenMP layer: spinning workers would take the CPU from the
   serial part of the step and from other processes.
"""
from __future__ import annotations

import os
import statistics

#: synapses from which threads are considered at all
THREADS_MIN_SYNAPSES = 2_000_000
#: probe chunks per side (one thread, T threads), alternated
PROBES = 2
#: chunks run on the chosen count before measuring again
HOLD = 16
#: T threads are chosen only when their median wall time per step is at most this fraction of one thread's
MARGIN = 0.9


def passive_wait() -> None:
    """Make idle OpenMP threads sleep instead of spin, unless the user chose (call before numba's OpenMP
    layer loads: libgomp reads its environment once, when it is loaded)."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def fast_threading_layer() -> bool:
    """numba's OpenMP (needs the system libgomp) or TBB layer loads and the user did not pick workqueue."""
    passive_wait()
    import numba
    if numba.config.THREADING_LAYER == "workqueue":
        return False
    for mod in ("omppool", "tbbpool"):
        try:
            __import__(f"numba.np.ufunc.{mod}")
            return True
        except ImportError:
            continue
    return False


def candidate_threads(n_synapses: int) -> int:
    """The thread count a default run measures against one thread (rule 1): numba's thread count
    (``NUMBA_NUM_THREADS``, default the CPU count) for programs of at least :data:`THREADS_MIN_SYNAPSES`
    synapses with a fast threading layer, else 1 (then no measuring)."""
    if n_synapses < THREADS_MIN_SYNAPSES or not fast_threading_layer():
        return 1
    import numba
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


class ThreadChooser:
    """Thread count per chunk for a default run (rule 2): ``next()`` before a chunk, ``record()`` after it.

    Probe phase: ``PROBES`` chunks on each side, alternating (one thread first); then ``HOLD`` chunks on the
    side whose median wall seconds per step is lower (``many`` only when at most ``MARGIN`` x one thread's),
    then probe again. ``many == 1`` always answers 1. Pure bookkeeping: the caller times the chunks."""

    def __init__(self, many: int, probes: int = PROBES, hold: int = HOLD, margin: float = MARGIN):
        self.many, self.probes, self.hold, self.margin = int(many), int(probes), int(hold), float(margin)
        self.times: dict[int, list[float]] = {1: [], self.many: []}
        self.choice = 1
        self.held = 0                     # chunks run on ``choice`` since the last decision
        self.probing = self.many > 1
        self.history: list[int] = []      # thread count of every chunk (for tests and reports)

    def next(self) -> int:
        if self.probing:
            n = len(self.times[1]) + len(self.times[self.many])
            return 1 if n % 2 == 0 else self.many
        return self.choice

    def record(self, threads: int, steps: int, seconds: float) -> None:
        self.history.append(threads)
        if not self.probing:
            self.held += 1
            if self.held >= self.hold and self.many > 1:
                self.probing, self.held = True, 0
                self.times = {1: [], self.many: []}
            return
        if steps > 0:
            self.times[threads].append(seconds / steps)
        if len(self.times[1]) >= self.probes and len(self.times[self.many]) >= self.probes:
            one, many = statistics.median(self.times[1]), statistics.median(self.times[self.many])
            self.choice = self.many if many <= self.margin * one else 1
            self.probing = False
