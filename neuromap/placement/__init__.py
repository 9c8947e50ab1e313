"""Partition neurons into cores and place cores on the mesh (OR-Tools CP-SAT), route, estimate.

Plain functions over plain data (``docs/performance.md``, placement section):

- :class:`~.graph.SynapseGraph` -- synapses as arrays over global neuron ids.
- :func:`~.partition.partition` (graph, target, method, rates, ...) -> :class:`~.partition.CoreAssignment`
- :func:`~.traffic.core_traffic` -> core x core packets per step
- :func:`~.mesh.place` (traffic, target, method, ...) -> :class:`~.mesh.Placement`
- :func:`~.routing.route` -> :class:`~.routing.RouteStats`; :func:`~.energy.estimate` -> :class:`~.energy.StepEstimate`
- :func:`~.report.place_graph` does all of it and returns a :class:`~.report.PlacementReport`
- :func:`~.verify.verify_graph` -- independent capacity check
"""
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.mesh import Placement, place
from neuromap.placement.partition import CoreAssignment, partition
from neuromap.placement.report import PlacementReport, PlacementResult, place_graph
from neuromap.placement.routing import RouteStats, route
from neuromap.placement.verify import verify_graph

__all__ = ["SynapseGraph", "partition", "CoreAssignment", "place", "Placement", "route", "RouteStats",
           "place_graph", "PlacementReport", "PlacementResult", "verify_graph"]
