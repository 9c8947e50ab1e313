"""Shared CP-SAT settings: deterministic solves (fixed workers, seed, deterministic time)."""
from __future__ import annotations

from ortools.sat.python import cp_model


def make_solver(time_limit: float, seed: int, num_workers: int, interleave: bool = False) -> cp_model.CpSolver:
    """A CP-SAT solver stopped by deterministic time only (reproducible across runs and machines).

    ``interleave``: run CP-SAT's portfolio (incl. its LNS subsolvers) interleaved in deterministic
    batches on ``num_workers`` threads (with 1: one thread); else one plain search per worker."""
    solver = cp_model.CpSolver()
    p = solver.parameters
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
