"""Partition + place + route + estimate in one call, with the sequential baseline alongside."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from neuromap.placement.budget import Budget, deterministic_budget
from neuromap.placement.energy import StepEstimate, estimate
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.mesh import Placement, place
from neuromap.placement.partition import CoreAssignment, partition
from neuromap.placement.routing import RouteStats, route
from neuromap.placement.traffic import core_traffic, release_caches, uniform_rates
from neuromap.targets import Target


@dataclass
class PlacementReport:
    """What a placement achieved, next to the sequential baseline (all per step).

    ``hop_weighted_traffic``: sum over packets of XY hops (the objective);
    ``bound``/``gap``: proven lower bound on the mesh objective for this partition
    over every placement of these cores on the board (:func:`~.mesh.place`,
    :mod:`~.mesh_bounds`) and (objective - bound)/objective, None for
    sequential/greedy;
    ``partition_bound``: proven lower bound on inter-core packets (exact solves only);
    ``sequential_max_link_load``/``sequential_energy_pj_per_step``: the baseline's busiest link and energy;
    ``max_link_load_bound``: proven lower bound on ``max_link_load`` over every placement of
    this partition (:func:`~.mesh_bounds.link_load_bound`);
    ``max_link_load_bound_at_traffic`` (``cpsat`` up to ``exact_max_cores`` cores, else None): proven
    lower bound on ``max_link_load`` over the placements on the exact model's candidate slots whose
    hop-weighted traffic (integer-scaled as the model's) is at most the achieved one
    (:func:`~.mesh_links.min_max_link_load`; the slots are the whole board when
    ``stats["mesh"]["slot_set_is_board"]``).
    ``time_split_s``: wall seconds per placement phase (``partition.*``, ``traffic``, ``mesh.*``,
    ``route``, the sequential baseline's included; :mod:`~.budget`); ``time_limit``/``deterministic``: the budget it
    ran under (wall
    seconds, or deterministic units).
    """

    method: str
    n_cores: int
    inter_core_packets: float
    hop_weighted_traffic: float
    sequential_hop_weighted_traffic: float
    sequential_n_cores: int
    bound: float | None
    gap: float | None
    partition_bound: float | None
    max_link_load: float
    max_link_load_bound: float | None
    max_link_load_bound_at_traffic: float | None
    mean_hops: float
    max_hops: int
    energy_pj_per_step: float
    latency_ns_per_step: float
    solve_time_s: float
    stats: dict
    sequential_max_link_load: float | None = None
    sequential_energy_pj_per_step: float | None = None
    time_split_s: dict = dataclasses.field(default_factory=dict)
    time_limit: float | None = None
    deterministic: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class PlacementResult:
    """Everything computed for one method: the assignment, positions, routes, estimate, report."""

    assignment: CoreAssignment
    placement: Placement
    routes: RouteStats
    estimate: StepEstimate
    report: PlacementReport


#: share of the budget left after the sequential baseline that the partition may use (the mesh gets the rest)
PARTITION_SHARE = 0.5


def _run(graph, target, method, rates, budget, seed, num_workers, baseline=None, link_slack=0.0, conv_layers=None,
         last=True):
    t0 = time.perf_counter()
    a = partition(graph, target, method, rates, seed=seed, num_workers=num_workers, baseline=baseline,
                  budget=budget.sub(PARTITION_SHARE), conv_layers=conv_layers)
    with budget.phase("traffic"):
        traffic = core_traffic(graph, a.core_of, rates, a.n_cores)
    if last:            # the graph's posts by pre and pairs (4-12 bytes per synapse): no later partition asks
        release_caches()
    p = place(traffic, target, "cpsat" if method == "tiles" else method, seed=seed, num_workers=num_workers,
              link_slack=link_slack, budget=budget)
    elapsed = time.perf_counter() - t0
    with budget.phase("route"):
        r = route(traffic, p.tile_x, p.tile_y, target.mesh_shape)
        est = estimate(graph, a.core_of, rates, r, target)
    return a, p, r, est, elapsed


def place_graph(graph: SynapseGraph, target: Target, method: str = "cpsat", rates=None,
                time_limit: float = 20.0, seed: int = 0, num_workers: int = 1,
                link_slack: float = 0.0, budget: Budget | None = None,
                conv_layers: list | None = None) -> PlacementResult:
    """Partition, place, route and estimate ``graph`` on ``target`` with ``method``
    (``sequential``/``greedy``/``cpsat``); the sequential baseline is computed too.
    ``budget`` (:mod:`.budget`): wall seconds or deterministic units for the whole placement (the
    sequential baseline, then the partition gets ``PARTITION_SHARE`` of what is left, the mesh the
    rest); without it ``time_limit`` deterministic units. ``link_slack``: see :func:`~.mesh.place`
    (cpsat only). ``conv_layers``: :func:`~.partition.partition`'s."""
    budget = deterministic_budget(time_limit) if budget is None else budget
    rates = uniform_rates(graph.n_neurons) if rates is None else np.asarray(rates, float)
    sa, sp_, sr, se, s_elapsed = _run(graph, target, "sequential", rates, budget, seed, num_workers,
                                      last=method == "sequential")
    seq_obj, seq_cores = sp_.objective, sa.n_cores
    if method == "sequential":
        a, p, r, est, elapsed = sa, sp_, sr, se, s_elapsed
    else:  # the method reuses the sequential partition (its start candidate) instead of repacking
        a, p, r, est, elapsed = _run(graph, target, method, rates, budget, seed, num_workers, sa, link_slack,
                                     conv_layers)
    split = {k: round(v, 4) for k, v in budget.split.items()}
    rep = PlacementReport(method, a.n_cores, a.objective, p.objective, seq_obj, seq_cores, p.bound, p.gap,
                          a.bound, r.max_link_load, p.link_load_bound, p.link_load_bound_at_traffic, r.mean_hops,
                          r.max_hops, est.energy_pj,
                          est.latency_ns, elapsed, {"partition": a.stats, "mesh": p.stats},
                          sr.max_link_load, se.energy_pj, split, budget.limit, budget.deterministic)
    return PlacementResult(a, p, r, est, rep)
