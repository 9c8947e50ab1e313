"""Energy and latency per step from a target's ``[energy]`` (pJ) and ``[latency]`` (ns) tables.

Counts per step (expected values from spike rates in spikes/step):
synaptic ops = sum over synapses of the presynaptic rate; packets with 0 hops are
within-tile spikes, every x/y hop of a packet costs one east-west/north-south hop;
every neuron is updated once per step, *active* with the probability that it receives
at least one spike (1 - exp(-expected input spikes)); a plastic synapse is updated on
each pre- or postsynaptic spike.
Latency: the slowest core's serial work (synaptic ops, neuron and plasticity updates),
plus the longest route, plus the barrier; at least ``step_min_ns``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from neuromap.placement.graph import SynapseGraph
from neuromap.placement.routing import RouteStats
from neuromap.targets import Target


@dataclass(frozen=True)
class StepEstimate:
    """Expected energy (pJ) and latency (ns) of one step, with the event counts behind them."""

    energy_pj: float
    synaptic_energy_pj: float
    routing_energy_pj: float
    neuron_energy_pj: float
    plasticity_energy_pj: float
    latency_ns: float
    synaptic_ops: float
    plasticity_updates: float
    active_neurons: float


def estimate(graph: SynapseGraph, core_of: np.ndarray, rates: np.ndarray, routes: RouteStats,
             target: Target) -> StepEstimate:
    """Energy and latency of one step for neurons on cores ``core_of`` routed as ``routes``."""
    e, lat = target.energy, target.latency
    n_cores = int(core_of.max(initial=-1)) + 1
    syn_ops_core, expected_in, upd_core = _synapse_sums(graph.pre, graph.post, graph.plastic,
                                                        np.asarray(rates, np.float64),
                                                        np.asarray(core_of, np.int64), n_cores, graph.n_neurons)
    p_active = 1.0 - np.exp(-expected_in)
    act_core = np.bincount(core_of, weights=p_active, minlength=n_cores)
    n_core = np.bincount(core_of, minlength=n_cores)
    syn_e = float(syn_ops_core.sum()) * e.synaptic_op_pj
    route_e = (routes.local_packets * e.tile_spike_pj + routes.x_hop_traffic * e.hop_x_pj
               + routes.y_hop_traffic * e.hop_y_pj)
    active = float(p_active.sum())
    neuron_e = active * e.neuron_update_active_pj + (graph.n_neurons - active) * e.neuron_update_inactive_pj
    plast_e = float(upd_core.sum()) * e.plasticity_update_pj
    core_ns = (syn_ops_core * lat.synaptic_op_ns + act_core * lat.neuron_update_active_ns
               + (n_core - act_core) * lat.neuron_update_inactive_ns + upd_core * lat.plasticity_update_ns)
    route_ns = (lat.tile_spike_ns + routes.max_route_x * lat.hop_x_ns + routes.max_route_y * lat.hop_y_ns
                if routes.local_packets + routes.remote_packets > 0 else 0.0)
    latency = max(float(core_ns.max(initial=0.0)) + route_ns + lat.barrier_sync_ns, lat.step_min_ns)
    return StepEstimate(syn_e + route_e + neuron_e + plast_e, syn_e, route_e, neuron_e, plast_e,
                        latency, float(syn_ops_core.sum()), float(upd_core.sum()), active)


@numba.njit(cache=True)
def _synapse_sums(pre, post, plastic, rates, core_of, n_cores, n):  # pragma: no cover - compiled
    """Per core: synaptic ops and plastic updates; per neuron: expected input spikes. One pass over the
    synapses, adding in synapse order as ``np.bincount`` does (identical sums), no per-synapse temporaries."""
    ops = np.zeros(n_cores)
    inp = np.zeros(n)
    upd = np.zeros(n_cores)
    for k in range(pre.shape[0]):
        r = rates[pre[k]]
        c = core_of[post[k]]
        ops[c] += r
        inp[post[k]] += r
        upd[c] += (r + rates[post[k]]) if plastic[k] else 0.0
    return ops, inp, upd
