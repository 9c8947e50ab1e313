"""How many threads the numba engine runs a static image on when the caller does not say (``threads=None``).

The rule (docs/emulator.md, *Threads*): the default is never slower than one thread by more than a small,
fixed share of the run, also on a loaded machine. It holds by construction, not by a good guess:

1. One thread for programs under :data:`THREADS_MIN_SYNAPSES` synapses (a step's work is too small for the
   1-3 us per parallel region), when numba has no OpenMP/TBB threading layer (``workqueue`` costs ~100 us per
   region), or when numba may use only one thread.
2. Otherwise the run starts on one thread and *measures* (:class:`ThreadChooser`). A try of ``T`` threads
   starts only when ``T`` cores are free at that moment (:func:`free_cores`: usable CPUs minus the other
   runnable tasks): on a machine whose cores are all busy, a thread that loses its core stalls every step's
   barrier for whole scheduler time slices, measured up to tens of times one thread's step. Results do not depend on
   the thread count or the chunk lengths, so any chunk may run on any count. The chooser keeps an account of
   the run's **excess** over one thread: for every chunk run on ``T`` threads, its wall seconds minus the same
   steps at one thread's current seconds per step (the median of the last one-thread chunks), plus the time
   spent preparing the ``T``-thread program (:func:`emulator.program.split_runs`). The excess may never pass
   the **budget**, :data:`LOSS_BUDGET` of the run's predicted one-thread time (steps x one thread's seconds
   per step): a ``T``-thread chunk is run only when its worst case (:data:`WORST_RATIO` x one thread's time)
   still fits, and is cut shorter when only a shorter one fits; one-thread chunks cost nothing against the
   budget. When ``T`` threads win, the excess goes negative and the budget grows with the gain.
3. Trying ``T``: :data:`PROBES` pairs of adjacent chunks of equal length, one thread then ``T`` (the pair's
   ratio cancels the network's activity changing over the run). ``T`` is chosen only when the median ratio
   is at most :data:`ENTER` (a clear gain); otherwise the run stays on one thread and tries again after
   :data:`HOLD` chunks, twice as long after each further loss. On ``T``, a one-thread check chunk runs
   every :data:`HOLD` chunks (and at once after a ``T`` chunk slower than one thread), and the run returns to one
   thread when the median of the last :data:`PROBES` pair ratios passes :data:`LEAVE` (hysteresis: a
   ratio between ENTER and LEAVE keeps what runs), or when the budget is spent.
4. Idle OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE`` unless the user set it or
   ``GOMP_SPINCOUNT``), set before numba loads its OpenMP layer: spinning workers would take the CPU from the
   serial part of the step and from other processes.

So the default's wall time is at most one thread's times ``1 + LOSS_BUDGET``, give or take the measuring
noise of one-thread chunks, as long as no single ``T`` chunk runs more than ``WORST_RATIO`` times slower
than one thread; the free-core gate keeps tries away from the loaded machines where it would
(bench/results/emulator_threads_load.md).
"""
from __future__ import annotations

import os
import statistics

#: synapses from which threads are considered at all
THREADS_MIN_SYNAPSES = 2_000_000
#: the most the default may lose against one thread, as a fraction of the run's predicted one-thread time
LOSS_BUDGET = 0.03
#: T threads are chosen when the median T / one-thread ratio of the probe pairs is at most this
ENTER = 0.85
#: ... and left when the median ratio of the last PROBES pairs is above this (between the two: no change)
LEAVE = 0.95
#: probe pairs (one thread, then T threads, equal lengths) before deciding
PROBES = 3
#: chunks between tries of T threads (doubled after each loss) and between one-thread checks while on T
HOLD = 8
#: the slowest a T-thread chunk is assumed to run against one thread when sizing it within the budget
WORST_RATIO = 3.0
#: predicted seconds per synapse of preparing the T-thread program before its first try (measured
#: 1.6-4.5 ns with :func:`emulator.program.split_runs` on 10 M-synapse images; the real time is what counts)
PREPARE_SECONDS_PER_SYNAPSE = 5e-9


def free_cores() -> int:
    """CPUs this process may use minus the other runnable tasks right now (``/proc/loadavg``'s running count,
    the calling thread excluded); the usable CPUs where that count is unavailable."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return usable
    return usable - max(0, running - 1)


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
    """Thread count and length of every chunk of a default run (rules 2-3): ``next(remaining)`` before a
    chunk gives ``(threads, steps)``; ``record(threads, steps, seconds)`` after it; ``prepared(seconds)``
    after building the ``many``-thread program (only when ``needs_program`` and ``next`` asked for ``many``).

    ``steps``: the run's length (the budget is :data:`LOSS_BUDGET` of its predicted one-thread time);
    ``chunk``: the longest chunk; ``synapses``: predicts the preparation's cost; ``cores``: a function giving
    the free cores now (default :func:`free_cores`). ``many == 1`` always answers one thread in full chunks. Pure bookkeeping: the caller times the chunks (tests feed it a fake clock)."""

    def __init__(self, many: int, steps: int, chunk: int, synapses: int = 0, *, budget: float = LOSS_BUDGET,
                 enter: float = ENTER, leave: float = LEAVE, probes: int = PROBES, hold: int = HOLD,
                 worst: float = WORST_RATIO, prepare_per_synapse: float = PREPARE_SECONDS_PER_SYNAPSE,
                 cores=None):
        self.many, self.steps, self.chunk = int(many), max(0, int(steps)), max(1, int(chunk))
        self.budget_share, self.enter, self.leave = float(budget), float(enter), float(leave)
        self.probes, self.hold, self.worst = int(probes), int(hold), float(worst)
        self.prepare_guess = float(synapses) * float(prepare_per_synapse)
        self.cores = free_cores if cores is None else cores     # () -> free cores now (tests: a stub)
        self.needs_program = self.many > 1       # the many-thread program is built on the first try
        self.one: list[float] = []               # seconds per step of the one-thread chunks, in order
        self.ratios: list[float] = []            # T / one-thread ratio of every pair, in order
        self.excess = 0.0                        # seconds this run lost (> 0) or gained (< 0) against one thread
        self.mode = "one"                        # "one", "probe" (a try of T) or "many"
        self.pair_steps = 0                      # > 0: the one-thread half of a pair just ran this long
        self.pairs = 0                           # pairs done in the current try
        self.wait = 0                            # one-thread chunks before the next try
        self.losses = 0                          # tries lost in a row (backoff)
        self.since_check = 0                     # T chunks since the last one-thread check
        self.history: list[int] = []             # thread count of every chunk (for tests and reports)
        self.lengths: list[int] = []             # steps of every chunk

    # -- the account ------------------------------------------------------------------------------
    def one_rate(self) -> float | None:
        """One thread's current seconds per step (median of the last 3 one-thread chunks)."""
        return statistics.median(self.one[-3:]) if self.one else None

    def budget(self) -> float:
        """:data:`LOSS_BUDGET` x the run's predicted one-thread seconds."""
        s1 = self.one_rate()
        return 0.0 if s1 is None else self.budget_share * self.steps * s1

    def _fits(self, remaining: int, extra: float = 0.0) -> int:
        """The longest T chunk (<= chunk, <= remaining) whose worst case fits the budget after ``extra``
        seconds of other cost; 0 when not even one step fits."""
        s1 = self.one_rate()
        if s1 is None or s1 <= 0:
            return 0
        room = self.budget() - self.excess - extra
        if room <= 0:
            return 0
        return int(min(self.chunk, remaining, room // (s1 * (self.worst - 1.0))))

    # -- the protocol -----------------------------------------------------------------------------
    def next(self, remaining: int) -> tuple[int, int]:
        remaining = max(1, int(remaining))
        full = min(self.chunk, remaining)
        if self.many <= 1 or not self.one:      # the first chunk always runs on one thread
            return 1, full
        prep = self.prepare_guess if self.needs_program else 0.0
        if self.pair_steps:                      # second half of a pair: T threads, the same length
            n = min(self.pair_steps, self._fits(remaining, prep))
            if n >= 1:
                return self.many, n
            self._lose()                         # the budget no longer allows it
            return 1, full
        if self.mode == "one":
            if self.wait > 0:
                return 1, full
            if self.cores() < self.many:         # fewer than T free cores now: look again later
                self.wait = self.hold
                return 1, full
            self.mode, self.pairs = "probe", 0
        if self.mode == "probe":
            n = min(self._fits(remaining, prep), full // 2)
            if n < 1:                            # no room for a pair now: try again later
                self._lose()
                return 1, full
            self.pair_steps = n                  # one thread now, T threads next
            return 1, n
        if self.since_check >= self.hold and remaining >= 2:    # mode "many": a one-thread check
            self.since_check = 0
            self.pair_steps = full // 2
            return 1, self.pair_steps
        n = self._fits(remaining)
        if n < 1:                                # the budget is spent
            self._lose()
            return 1, full
        return self.many, n

    def prepared(self, seconds: float) -> None:
        """The many-thread program took ``seconds`` to build: counted as excess."""
        self.needs_program = False
        self.excess += float(seconds)

    def record(self, threads: int, steps: int, seconds: float) -> None:
        self.history.append(int(threads))
        self.lengths.append(int(steps))
        if steps <= 0:
            return
        rate = float(seconds) / steps
        if threads == 1:
            self.one.append(rate)
            if self.mode == "one" and self.wait > 0:
                self.wait -= 1
            return
        s1 = self.one_rate()
        self.excess += float(seconds) - steps * s1
        if self.pair_steps:                      # a pair's T half, against the one-thread half just before
            self.ratios.append(rate / self.one[-1] if self.one[-1] > 0 else float("inf"))
            self.pair_steps = 0
            recent = statistics.median(self.ratios[-self.probes:])
            if self.mode == "probe":
                self.pairs += 1
                if self.pairs >= self.probes:
                    if recent <= self.enter:
                        self.mode, self.losses, self.since_check = "many", 0, 0
                    else:
                        self._lose()
            elif recent > self.leave:
                self._lose()
            return
        self.since_check += 1
        if rate > s1:                            # slower than one thread: check at once
            self.since_check = self.hold

    def _lose(self) -> None:
        """Back to one thread; the next try after HOLD x 2**(tries lost in a row) one-thread chunks."""
        self.mode = "one"
        self.wait = self.hold << min(self.losses, 20)
        self.losses += 1
        self.pair_steps = 0
        self.ratios.clear()
