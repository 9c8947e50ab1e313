"""Shared CP-SAT settings: fixed workers and seed; stopped by deterministic time or wall time."""
from __future__ import annotations

from ortools.sat.python import cp_model


def make_solver(time_limit: float, seed: int, num_workers: int, interleave: bool = False,
                budget=None) -> cp_model.CpSolver:
    """A CP-SAT solver stopped at ``time_limit``: deterministic time (reproducible across runs and
    machines) unless ``budget`` (:class:`~.budget.Budget`) is a wall-clock budget, then seconds of
    wall time. Charge the solve to the budget afterwards with ``budget.after_cpsat(solver)``.

    ``interleave``: run CP-SAT's portfolio (incl. its LNS subsolvers) interleaved in deterministic
    batches on ``num_workers`` threads (with 1: one thread); else one plain search per worker."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    if budget is not None and not budget.deterministic:
        p.max_time_in_seconds = max(float(time_limit), 0.01)
    else:
        p.max_deterministic_time = max(float(time_limit), 0.01)
    p.num_workers = int(num_workers)
    p.random_seed = int(seed)
    p.interleave_search = bool(interleave)
    return solver


def solved(status) -> bool:
    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def status_name(status) -> str:
    """CP-SAT status as text (OPTIMAL, FEASIBLE, ...)."""
    from ortools.sat import cp_model_pb2
    return cp_model_pb2.CpSolverStatus.Name(status)
