"""Compiler pass ``place``: partition neurons into cores under every capacity of the target, place the
cores on the mesh, route, and record the :class:`~neuromap.placement.report.PlacementReport` (docs/placement.md).

Model used for the mapping:

* The graph is :meth:`SynapseGraph.from_network` of the hardware-unit network, *inputs included*: an
  input (``spike_source``/``poisson``) stands for its spike-injection point and is partitioned like a
  neuron, charged one compartment. This is conservative -- removing the inputs from their cores lowers
  neuron counts and index widths and changes no axon count -- so the image's cores respect every
  capacity; input packets are part of the traffic.
* Image cores are the partition's cores that hold at least one neuron, renumbered in order; the image
  stores each core's tile (x, y) on the board mesh and its chip (``cores.tile_x``, ``tile_y``, ``chip``).
* Rates (spikes per step per neuron) weigh the traffic: ``uniform`` (1 per step: every fan-out edge
  counts) or ``auto`` (a ``rate_steps``-step run of the core emulator, default 200 steps).

Options read (all recorded in the image): ``placer`` (sequential | greedy | cpsat, default cpsat),
``time_limit`` (CP-SAT deterministic time units, default 10, split between partition and mesh),
``seed`` (default 0), ``rates`` (uniform | auto | rates file path, default uniform), ``rate_steps`` (default 200),
``link_slack`` (fraction of extra hop-weighted traffic allowed to lower the busiest link, 0 to 1, default 0).
The report lands in ``options["placement"]``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from neuromap.errors import TargetError
from neuromap.network import Network
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.mesh import board_slots
from neuromap.placement.report import place_graph
from neuromap.placement.traffic import rates_from_spikes, uniform_rates
from neuromap.placement.usage import core_usage
from neuromap.placement.verify import verify_assignment

INPUT_MODELS = ("spike_source", "poisson")
PLACERS = ("sequential", "greedy", "cpsat")
RATE_MODES = ("uniform", "auto")
DEFAULT_TIME_LIMIT = 10.0
DEFAULT_RATE_STEPS = 200


def estimate_rates(net: Network, target, mode: str, steps: int = DEFAULT_RATE_STEPS) -> np.ndarray:
    """Spikes per step of every graph node (population order, inputs included).

    ``uniform``: 1.0 each. ``auto``: spike counts of a ``steps``-step run of the bit-exact core
    emulator (:func:`emulator.emulate`, numpy engine) on a fill-in-order image of the same
    hardware-unit network (placement does not change spikes), divided by ``steps``. Anything
    else is a rates file (:mod:`neuromap.placement.rates_file`: per population or per neuron).
    """
    n = sum(p.size for p in net.populations.values())
    if mode == "uniform":
        return uniform_rates(n)
    if mode != "auto":
        if not str(mode).endswith((".yaml", ".yml", ".json", ".npy")):
            raise TargetError(f"rates: {mode!r} is not one of {', '.join(RATE_MODES)} or a "
                              ".yaml/.json/.npy rates file (docs/placement.md)")
        from neuromap.placement.rates_file import load_rates
        return load_rates(mode, {k: p.size for k, p in net.populations.items()}, float(net.dt))
    from emulator import emulate
    from neuromap.compiler.lower import lower_to_image
    from neuromap.compiler.pipeline import CompileState, partition
    st = partition(CompileState(net, target))
    img = lower_to_image(net, target, st.placement, {})
    raw = emulate(img, int(steps), "numpy", probe=np.zeros(0, np.int64))
    counts = np.bincount(raw.spikes[:, 1], minlength=img.n_neurons + img.n_inputs) if raw.spikes.size \
        else np.zeros(img.n_neurons + img.n_inputs)
    return rates_from_spikes(counts[_graph_to_source(net, img.n_neurons)], int(steps))


def _graph_to_source(net: Network, n_neurons: int) -> np.ndarray:
    """Image source id (neurons, then inputs) of every graph node (populations in order)."""
    out, nn, ni = [], 0, n_neurons
    for pop in net.populations.values():
        if pop.model in INPUT_MODELS:
            out.append(np.arange(ni, ni + pop.size))
            ni += pop.size
        else:
            out.append(np.arange(nn, nn + pop.size))
            nn += pop.size
    return np.concatenate(out or [np.zeros(0, np.int64)])


def _neuron_mask(net: Network) -> np.ndarray:
    return np.concatenate([np.full(p.size, p.model not in INPUT_MODELS) for p in net.populations.values()]
                          or [np.zeros(0, bool)])


def _summary(a: np.ndarray, limit: int | None) -> dict:
    a = np.asarray(a, float)
    if not a.size:
        a = np.zeros(1)
    return {"min": float(a.min()), "median": float(np.median(a)), "max": float(a.max()),
            "limit": None if not limit else int(limit)}


def core_utilization(graph: SynapseGraph, core_of: np.ndarray, n_cores: int, target) -> dict:
    """Per resource: min/median/max use over cores ``0..n_cores-1`` and the limit (ids >= n_cores are
    host-side inputs, left out); ``values``: resource -> use of each core (list of ints); ``binding``: the resource with the highest max/limit (what limited
    the mapping) and that fraction."""
    u = core_usage(graph, core_of, target)
    c, k = target.core, slice(0, n_cores)
    res = {"neurons": _summary(u.neurons[k], c.max_neurons),
           "input_axons": _summary(u.input_axons[k], c.max_input_axons),
           "output_axons": _summary(u.output_axons[k], c.max_output_axons)}
    if c.memory_model == "nengo_loihi":
        res["synapse_memory_bits"] = _summary(u.memory_bits[k], c.synapse_memory_bits)
    frac = {k: v["max"] / v["limit"] for k, v in res.items() if v["limit"]}
    binding = max(frac, key=lambda k: (frac[k], k)) if frac else None
    values = {"neurons": u.neurons[k], "input_axons": u.input_axons[k], "output_axons": u.output_axons[k],
              "synapse_memory_bits": u.memory_bits[k]}
    return {"per_core": res, "binding": binding, "binding_fraction": frac.get(binding),
            "values": {name: np.asarray(values[name]).astype(int).tolist() for name in res}}


def place_pass(st):
    """Pass ``place``: fills ``placement`` (population -> (core, slot)) and ``options["placement"]``."""
    o = st.options
    method = o.get("placer", "cpsat")
    if method not in PLACERS:
        raise TargetError(f"placer: {method!r} is not one of {', '.join(PLACERS)}")
    time_limit = float(o.get("time_limit", DEFAULT_TIME_LIMIT))
    if not time_limit > 0:
        raise TargetError(f"time_limit: {time_limit} must be > 0 (CP-SAT deterministic units)")
    seed = int(o.get("seed", 0))
    link_slack = float(o.get("link_slack", 0.0))
    if not 0.0 <= link_slack <= 1.0:
        raise TargetError(f"link_slack: {link_slack} must be between 0 and 1 (a fraction of the hop-weighted traffic)")
    mode = o.get("rates", "uniform")
    rate_steps = int(o.get("rate_steps", DEFAULT_RATE_STEPS))
    net, tgt = st.network, st.target
    graph = SynapseGraph.from_network(net)
    rates = estimate_rates(net, tgt, mode, rate_steps)
    res = place_graph(graph, tgt, method, rates, time_limit=time_limit, seed=seed, num_workers=1,
                      link_slack=link_slack)
    core_of = res.assignment.core_of
    is_neuron = _neuron_mask(net)
    # image cores: partition cores holding a neuron, in order of their first neuron
    used = np.unique(core_of[is_neuron])
    remap = np.full(res.assignment.n_cores, -1, np.int64)
    remap[used] = np.arange(used.size)
    n_core = remap[core_of]
    slot = np.zeros(graph.n_neurons, np.int64)
    for c in used:  # slot = rank among the core's neurons in id order
        members = np.flatnonzero((core_of == c) & is_neuron)
        slot[members] = np.arange(members.size)
    placement, off = {}, 0
    for name, pop in net.populations.items():
        if pop.model not in INPUT_MODELS:
            placement[name] = (n_core[off:off + pop.size].copy(), slot[off:off + pop.size].copy())
        off += pop.size
    m = tgt.mesh
    tx, ty = res.placement.tile_x[used], res.placement.tile_y[used]
    chip = (ty // m.tiles_y) * m.chips_x + tx // m.tiles_x
    rep = res.report.to_dict()
    rep.pop("stats")
    rep.update(cores_used=int(used.size), partition_cores=rep.pop("n_cores"), rates=mode,
               rate_steps=rate_steps if mode == "auto" else None, time_limit=time_limit, seed=seed,
               link_slack=link_slack,
               mesh_shape=list(tgt.mesh_shape), solve_status=_status(res.report.stats),
               utilization=core_utilization(graph, _with_host_inputs(n_core, is_neuron), used.size, tgt))
    cores = {"tile_x": tx.astype(np.int32), "tile_y": ty.astype(np.int32), "chip": chip.astype(np.int32)}
    return dataclasses.replace(st, placement=placement,
                               options={**o, "placement": _jsonable(rep), "_core_positions": cores})


def _with_host_inputs(core_of: np.ndarray, is_neuron: np.ndarray) -> np.ndarray:
    """``core_of`` with every input moved to its own virtual core after the real ones (host side)."""
    out = np.asarray(core_of, np.int64).copy()
    k = int(out[is_neuron].max(initial=-1)) + 1
    out[~is_neuron] = k + np.arange(int((~is_neuron).sum()))
    return out


def _status(stats: dict) -> dict:
    return {k: v.get("status") for k, v in stats.items() if isinstance(v, dict) and "status" in v}


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x


def verify_place(st) -> None:
    """Independent check (:func:`neuromap.placement.verify.verify_assignment`): every neuron placed once,
    each core within every capacity. Inputs sit on virtual cores beyond the image's (host side, not checked)."""
    net, tgt, pl = st.network, st.target, st.placement or {}
    graph = SynapseGraph.from_network(net)
    n_cores = 1 + max((int(c.max(initial=-1)) for c, _ in pl.values()), default=-1)
    core_of = np.zeros(graph.n_neurons, np.int64)
    off = 0
    for name, pop in net.populations.items():
        if pop.model not in INPUT_MODELS:
            if name not in pl or pl[name][0].shape != (pop.size,):
                raise TargetError(f"place left population {name!r} unplaced")
            core_of[off:off + pop.size] = pl[name][0]
        off += pop.size
    core_of = _with_host_inputs(core_of, _neuron_mask(net))
    cores = np.concatenate([c for c, _ in pl.values()] or [np.zeros(0, np.int64)])
    slots = np.concatenate([s for _, s in pl.values()] or [np.zeros(0, np.int64)])
    if slots.size and (slots.min() < 0 or slots.max() >= tgt.core.max_neurons):
        raise TargetError(f"place put a neuron outside the {tgt.core.max_neurons} compartments of a core")
    if np.unique(cores * tgt.core.max_neurons + slots).size != cores.size:
        raise TargetError("place put two neurons in one compartment")
    bad = [v for v in verify_assignment(graph.n_neurons, graph.pre, graph.post, core_of, tgt, graph.delay,
                                        graph.weight_bits, graph.plastic) if v.core < n_cores]
    if bad:
        raise TargetError(f"place violated a capacity ({bad[0]}; {len(bad)} violation(s))")


def image_core_of(img) -> tuple[np.ndarray, np.ndarray]:
    """(pre source id, post neuron) of every synapse of an image, read back from its routes and axons."""
    src_ptr, rc, ra = img.routes["src_ptr"], img.routes["core"], img.routes["axon"]
    src = np.repeat(np.arange(src_ptr.size - 1), np.diff(src_ptr))
    g = img.cores["axon_ptr"][rc] + ra
    syn_ptr = img.axons["syn_ptr"]
    n = syn_ptr[g + 1] - syn_ptr[g]
    pre = np.repeat(src, n)
    idx = np.concatenate([np.arange(syn_ptr[a], syn_ptr[a + 1]) for a in g] or [np.zeros(0, np.int64)])
    return pre, img.synapses["post"][idx].astype(np.int64), idx


def verify_image_capacities(img, target) -> list:
    """Capacity violations of a compiled image, recomputed from its arrays alone by the independent
    verifier (inputs on virtual host cores, not checked). [] = every core fits ``target``."""
    pre, post, idx = image_core_of(img)
    N, C = img.n_neurons, img.n_cores
    core_of = np.concatenate([img.neurons["core"].astype(np.int64), C + np.arange(img.n_inputs)])
    ax_of_syn = np.repeat(np.arange(img.n_axons), np.diff(img.axons["syn_ptr"]))
    proj = img.axons["proj"][ax_of_syn[idx]]
    bits = np.array([p.num_weight_bits for p in img.projections], np.int64)[proj] if proj.size else proj
    plastic = np.array([p.learning is not None for p in img.projections], bool)[proj] if proj.size else proj
    found = verify_assignment(N + img.n_inputs, pre, post, core_of, target,
                              img.synapses["delay"][idx], bits, plastic)
    return [v for v in found if v.core < C]
