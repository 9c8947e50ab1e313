"""Time budget of one placement: wall-clock seconds (default) or deterministic work units.

A :class:`Budget` is handed down the placer (partition, mesh, annealing, link phase, LP bound,
TrueNorth crossbar/fan-out solves). Each solver takes a *share* of what is left (:meth:`Budget.sub`,
:meth:`Budget.limit`) and stops at it; what one phase does not use is left for the next.

Two clocks:

- **wall** (``deterministic=False``): ``limit`` is seconds of wall time from the budget's creation.
  CP-SAT gets ``max_time_in_seconds``, HiGHS ``time_limit``, annealing and LNS loops check the clock
  between chunks. Results can vary with machine load (a loaded machine does less work in the
  same time); every phase keeps the best solution so far, so a deadline never makes the result
  worse than the sequential/greedy start.
- **deterministic** (``deterministic=True``): ``limit`` is work units -- CP-SAT deterministic time
  (roughly seconds of one core) plus :data:`ANNEAL_VISITS_PER_UNIT` annealing partner visits per unit
  (a move visits the CSR rows of the one or two cores it moves). Same
  input and seed give the same result on every run and machine; wall time is not bounded.

Phases that must run whatever the budget (the sequential and greedy starts, routing, the
final checks) are timed too but never cut short. :attr:`Budget.split` holds the wall seconds
spent per phase name (shared by a budget and all its sub-budgets), reported as
``time_split_s`` in ``inspect --json``.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

#: annealing work charged as one deterministic unit: partner visits (CSR row entries of moved cores), about
#: one second of one core on this machine
ANNEAL_VISITS_PER_UNIT = 20_000_000

#: ``progress(phase, done, total)``: which placement phase runs and how far it is (``done`` of ``total``)
PhaseProgress = Callable[[str, int, int], None]

#: smallest limit handed to a solver (s or units): below this a phase is skipped
MIN_LIMIT = 0.02


@dataclass
class Budget:
    """``limit`` wall seconds (or work units when ``deterministic``) for everything charged to it.

    ``progress``: optional :data:`PhaseProgress` called when a phase starts and as it advances.
    Sub-budgets (:meth:`sub`) share ``split``, ``progress`` and (deterministic) the parent's spent units."""

    limit: float
    deterministic: bool = False
    progress: Optional[PhaseProgress] = None
    split: dict = field(default_factory=dict)
    _start: float = field(default_factory=time.monotonic)
    _spent: list = field(default_factory=lambda: [0.0])   # deterministic units spent (shared with the parent)
    _base: float = 0.0                                     # parent's spent units at this budget's creation
    _parent: Optional["Budget"] = None

    # ------------------------------------------------------------------ clock
    def left(self) -> float:
        """What is left: seconds (wall) or units (deterministic), >= 0, never more than the parent's."""
        if self.deterministic:
            own = self.limit - (self._spent[0] - self._base)
        else:
            own = self.limit - (time.monotonic() - self._start)
        if self._parent is not None:
            own = min(own, self._parent.left())
        return max(0.0, own)

    def expired(self) -> bool:
        return self.left() < MIN_LIMIT

    def charge(self, units: float) -> None:
        """Count ``units`` of deterministic work (CP-SAT deterministic time, annealing moves / rate).
        Ignored by a wall-clock budget (the clock counts)."""
        if self.deterministic:
            self._spent[0] += float(units)

    def limit_for(self, fraction: float = 1.0, cap: float | None = None) -> float:
        """A solver's limit: ``fraction`` of what is left (at most ``cap``)."""
        v = self.left() * float(fraction)
        return v if cap is None else min(v, float(cap))

    def sub(self, fraction: float, cap: float | None = None) -> "Budget":
        """A budget of ``fraction`` of what is left now (at most ``cap``), ending no later than this one."""
        lim = self.limit_for(fraction, cap)
        return Budget(lim, self.deterministic, self.progress, self.split, time.monotonic(), self._spent,
                      self._spent[0], self)

    # ------------------------------------------------------------------ phases and progress
    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a phase (wall seconds added to ``split[name]``) and report its start to ``progress``."""
        t0 = time.perf_counter()
        self.report(name, 0, 1)
        try:
            yield
        finally:
            self.split[name] = self.split.get(name, 0.0) + time.perf_counter() - t0
            self.report(name, 1, 1)

    def report(self, name: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(name, int(done), int(max(total, 1)))

    # ------------------------------------------------------------------ solvers
    def after_cpsat(self, solver) -> None:
        """Charge a finished CP-SAT solve's deterministic time."""
        self.charge(solver.response_proto.deterministic_time)


def deterministic_budget(units: float) -> Budget:
    """The budget of a library call given only ``time_limit`` (deterministic units, as before budgets)."""
    return Budget(float(units), deterministic=True)


def default_time_limit(n_synapses: int) -> float:
    """Default placement budget (s of wall time, or units with ``--deterministic``) for a network of
    ``n_synapses`` synapses: 3 s, plus 2 s per million synapses, at most 30 s (3.2 s at 100 k,
    5 s at 1 M, 23 s at 10 M). It includes the sequential and greedy starts (about 3.5 s of one
    core at 1 M synapses); the rest of a compile (verifiers, lowering) is outside it."""
    return float(min(30.0, 3.0 + 2e-6 * max(int(n_synapses), 0)))
