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
  counts) or ``auto`` (a ``rate_steps``-step run, default 200 steps, of a fill-in-order image of the same
  network by the compile's image runner -- the emulator, supplied by the application layer,
  :func:`neuromap.toolchain.emulator_runner`; the compiler imports no runtime).

Options read (:class:`~neuromap.compiler.result.CompileOptions`, recorded in the image as given): ``placer``
(sequential | greedy | cpsat, default cpsat),
``time_limit`` (the whole placement's budget: wall seconds, or with ``deterministic`` work units --
CP-SAT deterministic time, about seconds of one core; default
:func:`~neuromap.placement.budget.default_time_limit` of the synapse count), ``deterministic``
(default False: wall clock, results may vary with machine load; True: same result every run),
``seed`` (default 0), ``rates`` (uniform | auto | rates file path, default uniform), ``rate_steps`` (default 200),
``link_slack`` (fraction of extra hop-weighted traffic allowed to lower the busiest link, 0 to 1, default 0).
The report (:class:`PlacementSummary`) lands in ``reports.placement`` (the image's ``options["placement"]``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap.capacity import CoreLimits, count, image_usage, utilization, violations
from neuromap.compiler.analysis import Analysis
from neuromap.compiler.lower import lower_to_image
from neuromap.conv_geometry import ConvGeometry
from neuromap.errors import TargetError
from neuromap.network import Network
from neuromap.placement.budget import Budget, default_time_limit
from neuromap.placement.conv_tiles import ConvLayer
from neuromap.placement.graph import SynapseGraph
from neuromap.placement.joins import network_join_parent, unit_order
from neuromap.placement.partition import check_joins_kept
from neuromap.placement.rates_file import load_rates
from neuromap.placement.report import place_graph
from neuromap.placement.traffic import rates_from_spikes, release_caches, uniform_rates
from neuromap.placement.usage import graph_input_axons
from neuromap.progress import set_label

INPUT_MODELS = ("spike_source", "poisson")
PLACERS = ("sequential", "greedy", "tiles", "cpsat")
RATE_MODES = ("uniform", "auto")
DEFAULT_RATE_STEPS = 200


@dataclass
class PlacementSummary:
    """What the ``place`` pass did (the image's ``options["placement"]``, docs/json.md): the fields of
    :class:`~neuromap.placement.report.PlacementReport` but its solver ``stats`` (``n_cores`` is
    ``partition_cores``: cores of the partition, host-side input cores included), then ``cores_used``
    (image cores: those holding a neuron), the rate mode and steps, seed, link slack, mesh shape,
    ``solve_status`` (phase -> CP-SAT status) and ``utilization`` (:func:`core_utilization`). Traffic
    in packets (or packet-hops) per step, energy in pJ per step, latency in ns per step, times in
    seconds. Fields an older image lacks are None."""

    method: str
    inter_core_packets: float | None = None
    hop_weighted_traffic: float | None = None
    sequential_hop_weighted_traffic: float | None = None
    sequential_n_cores: int | None = None
    bound: float | None = None
    gap: float | None = None
    partition_bound: float | None = None
    max_link_load: float | None = None
    max_link_load_bound: float | None = None
    max_link_load_bound_at_traffic: float | None = None
    mean_hops: float | None = None
    max_hops: int | None = None
    energy_pj_per_step: float | None = None
    latency_ns_per_step: float | None = None
    solve_time_s: float | None = None
    sequential_max_link_load: float | None = None
    sequential_energy_pj_per_step: float | None = None
    time_split_s: dict[str, float] = field(default_factory=dict)
    time_limit: float | None = None
    deterministic: bool = True       # images from before wall-clock budgets: deterministic units
    cores_used: int | None = None
    partition_cores: int | None = None
    rates: str | None = None
    rate_steps: int | None = None
    seed: int | None = None
    link_slack: float | None = None
    mesh_shape: list[int] | None = None
    solve_status: dict[str, str] = field(default_factory=dict)
    utilization: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PlacementSummary":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def placement_time_limit(options, n_synapses: int) -> tuple[float, bool]:
    """(budget, deterministic) of a compile's ``time_limit``/``deterministic`` options
    (:class:`~neuromap.compiler.result.CompileOptions`); the default budget scales with ``n_synapses``
    (:func:`~neuromap.placement.budget.default_time_limit`)."""
    deterministic = options.deterministic
    if not isinstance(deterministic, (bool, np.bool_)):
        raise TargetError(f"deterministic: {deterministic!r} must be true or false")
    raw = options.time_limit
    if raw is None:
        return default_time_limit(n_synapses), bool(deterministic)
    try:
        time_limit = float(raw)
    except (TypeError, ValueError):
        raise TargetError(f"time_limit: {raw!r} is not a number (seconds of wall time, or work units with "
                          "deterministic)") from None
    if not time_limit > 0 or not np.isfinite(time_limit):
        raise TargetError(f"time_limit: {time_limit} must be a finite number > 0 (seconds of wall time, or work "
                          "units with deterministic)")
    return time_limit, bool(deterministic)


def phase_progress(progress):
    """A :data:`~neuromap.placement.budget.PhaseProgress` driving a pass progress callback: the position
    is the share of the budget spent (monotone), the label the running phase and how far it is."""
    if progress is None:
        return None
    state = {"done": 0, "budget": None}

    def report(phase: str, done: int, total: int) -> None:
        b = state["budget"]
        frac = 0.0 if b is None else 1.0 - b.left() / max(b.limit, 1e-9)
        state["done"] = max(state["done"], int(999 * min(frac, 1.0)))
        set_label(progress, phase if total <= 1 else f"{phase} {100 * done // total}%")
        progress(state["done"], 1000)

    report.state = state
    return report


def fill_in_order(net: Network, cap: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Population name -> (core, slot) of every neuron population, neurons filling cores of ``cap``
    compartments in population order (inputs are host-side: not placed). A join group (a dendrite population's
    neuron i and its soma's neuron i) fills consecutive compartments of one core, at its soma's place."""
    jp = network_join_parent(net, inputs=False)
    n = sum(p.size for p in net.populations.values() if p.model not in INPUT_MODELS)
    if jp is None:
        core, slot = np.arange(n, dtype=np.int64) // cap, np.arange(n, dtype=np.int64) % cap
    else:
        order, unit_end = unit_order(np.arange(n, dtype=np.int64), jp)
        core, slot = np.empty(n, np.int64), np.empty(n, np.int64)
        c = s = 0
        i = 0
        while i < n:                  # units of 1 or 2 compartments (cap >= 2 for a join to fit at all)
            e = int(unit_end[i])
            if s + e - i > cap:
                c, s = c + 1, 0
            core[order[i:e]], slot[order[i:e]] = c, s + np.arange(e - i)
            s += e - i
            i = e
    placement, off = {}, 0
    for name, pop in net.populations.items():
        if pop.model in INPUT_MODELS:
            continue
        placement[name] = (core[off:off + pop.size].copy(), slot[off:off + pop.size].copy())
        off += pop.size
    return placement


def estimate_rates(net: Network, target, mode: str, steps: int = DEFAULT_RATE_STEPS, runner=None) -> np.ndarray:
    """Spikes per step of every graph node (population order, inputs included).

    ``uniform``: 1.0 each. ``auto``: spike counts of a ``steps``-step run by ``runner``
    (:data:`~neuromap.compiler.result.ImageRunner`: the bit-exact core emulator, numpy engine) of a
    fill-in-order image of the same hardware-unit network (placement does not change spikes), divided
    by ``steps``; without a runner a one-line TargetError. Anything else is a rates file
    (:mod:`neuromap.placement.rates_file`: per population or per neuron).
    """
    n = sum(p.size for p in net.populations.values())
    if mode == "uniform":
        return uniform_rates(n)
    if mode != "auto":
        if not str(mode).endswith((".yaml", ".yml", ".json", ".npy")):
            raise TargetError(f"rates: {mode!r} is not one of {', '.join(RATE_MODES)} or a "
                              ".yaml/.json/.npy rates file (docs/placement.md)")
        return load_rates(mode, {k: p.size for k, p in net.populations.items()}, float(net.dt))
    if runner is None:
        raise TargetError("rates: auto runs the network on the emulator, and this compile has no image runner "
                          "(use neuromap.toolchain.compile_network, or pass runner=neuromap.toolchain."
                          "emulator_runner to neuromap.compiler.compile_network)")
    img, _ = lower_to_image(net, target, fill_in_order(net, int(target.core.max_neurons)))
    spikes = runner(img, int(steps), engine="numpy")
    counts = np.bincount(spikes[:, 1], minlength=img.n_neurons + img.n_inputs) if spikes.size \
        else np.zeros(img.n_neurons + img.n_inputs)
    return rates_from_spikes(counts[_graph_to_source(net, img.n_neurons)], int(steps))


def conv_layers(net: Network) -> list[ConvLayer]:
    """The spatial populations: the pre (geometry ``in_shape``) and post (``out_shape``) of every ``conv``/``pool``
    projection, for the partition's stacked spatial tiling (:mod:`neuromap.placement.conv_tiles`)."""
    start, off = {}, 0
    for name, pop in net.populations.items():
        start[name] = off
        off += pop.size
    seen: dict[str, ConvLayer] = {}
    for pr in net.projections:
        g = pr.spec.get("geometry")
        if g is None and (pr.hw or {}).get("conv") is not None:     # quantized: the geometry rides in hw
            g = ConvGeometry.from_dict(pr.hw["conv"])
        if g is None:
            continue
        for pop, shape in ((pr.pre, g.in_shape), (pr.post, g.out_shape)):
            if pop not in seen and net.populations[pop].size == int(np.prod(shape)):
                seen[pop] = ConvLayer(start[pop], tuple(int(x) for x in shape))
    return list(seen.values())


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


def core_utilization(graph: SynapseGraph, core_of: np.ndarray, n_cores: int, target) -> dict:
    """:func:`neuromap.capacity.utilization` of cores ``0..n_cores-1`` (ids >= n_cores are host-side
    inputs, left out): per resource min/median/max use and limit, and the binding resource; ``values``:
    resource -> use of each core (list of ints, for per-core plots)."""
    core_of = np.where(np.asarray(core_of, np.int64) < n_cores, core_of, -1)
    limits = CoreLimits.from_target(target)
    axons = graph_input_axons(graph, core_of, target, n_cores)
    usage = count(limits, n_cores, core_of, axons)
    out = utilization(usage, limits)
    out["values"] = {r: np.asarray(usage.synapses if r == "synapses" else usage.of(r)).astype(int).tolist()
                     for r in out["per_core"]}
    return out


#: the network's synapse graph (inputs included), shared by the place pass and its verifier (an analysis:
#: computed once while the network is the same object, :mod:`neuromap.compiler.analysis`; released after the
#: place pass's verifier: 16-24 bytes per synapse that ``lower`` does not need)
SYNAPSE_GRAPH = Analysis("synapse_graph", ("network",), lambda st: SynapseGraph.from_network(st.network), ("place",))


def place_pass(st):
    """Pass ``place``: fills ``placement`` (population -> (core, slot)), ``core_positions`` (tile and chip of
    every image core) and ``reports.placement``."""
    o = st.options
    method = o.placer
    if method not in PLACERS:
        raise TargetError(f"placer: {method!r} is not one of {', '.join(PLACERS)}")
    seed = int(o.seed)
    link_slack = float(o.link_slack)
    if not 0.0 <= link_slack <= 1.0:
        raise TargetError(f"link_slack: {link_slack} must be between 0 and 1 (a fraction of the hop-weighted traffic)")
    mode = o.rates
    rate_steps = int(o.rate_steps)
    net, tgt = st.network, st.target
    graph = st.analyses.get(SYNAPSE_GRAPH, st)
    time_limit, deterministic = placement_time_limit(o, graph.n_synapses)
    rates = estimate_rates(net, tgt, mode, rate_steps, st.runner)
    report = phase_progress(st.progress)
    budget = Budget(time_limit, deterministic, progress=report)
    if report is not None:
        report.state["budget"] = budget
    res = place_graph(graph, tgt, method, rates, seed=seed, num_workers=1, link_slack=link_slack, budget=budget,
                      conv_layers=conv_layers(net))
    release_caches()                 # the placement's cached pairs (~9 bytes per synapse): not needed below
    core_of = res.assignment.core_of
    is_neuron = _neuron_mask(net)
    # image cores: partition cores holding a neuron, in order of their first neuron
    used = np.unique(core_of[is_neuron])
    remap = np.full(res.assignment.n_cores, -1, np.int64)
    remap[used] = np.arange(used.size)
    n_core = remap[core_of]
    slot = core_slots(core_of, is_neuron)
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
               rate_steps=rate_steps if mode == "auto" else None, seed=seed,
               link_slack=link_slack,
               mesh_shape=list(tgt.mesh_shape), solve_status=_status(res.report.stats),
               utilization=core_utilization(graph, _with_host_inputs(n_core, is_neuron), used.size, tgt))
    cores = {"tile_x": tx.astype(np.int32), "tile_y": ty.astype(np.int32), "chip": chip.astype(np.int32)}
    return dataclasses.replace(st, placement=placement, core_positions=cores,
                               reports=dataclasses.replace(st.reports,
                                                           placement=PlacementSummary.from_dict(_jsonable(rep))))


def core_slots(core_of: np.ndarray, is_neuron: np.ndarray) -> np.ndarray:
    """Slot of every neuron: its rank among the neurons of its core in id order (0 for inputs)."""
    ids = np.flatnonzero(is_neuron)
    order = ids[np.argsort(core_of[ids], kind="stable")]
    c = core_of[order]
    first = np.searchsorted(c, c)            # position of the core's first neuron in ``order``
    slot = np.zeros(core_of.shape[0], np.int64)
    slot[order] = np.arange(order.size) - first
    return slot


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
    """Every neuron placed once in a distinct compartment, every join group on one core, and each core within
    every capacity (:func:`neuromap.capacity.count` over the input axons of the network's own synapse graph,
    rebuilt here). Inputs are host-side (they occupy no core)."""
    net, tgt, pl = st.network, st.target, st.placement or {}
    graph = st.analyses.get(SYNAPSE_GRAPH, st)
    n_cores = 1 + max((int(c.max(initial=-1)) for c, _ in pl.values()), default=-1)
    core_of = np.full(graph.n_neurons, -1, np.int64)
    off = 0
    for name, pop in net.populations.items():
        if pop.model not in INPUT_MODELS:
            if name not in pl or pl[name][0].shape != (pop.size,):
                raise TargetError(f"place left population {name!r} unplaced")
            core_of[off:off + pop.size] = pl[name][0]
        off += pop.size
    cores = np.concatenate([c for c, _ in pl.values()] or [np.zeros(0, np.int64)])
    slots = np.concatenate([s for _, s in pl.values()] or [np.zeros(0, np.int64)])
    if cores.size and cores.min() < 0:
        raise TargetError("place put a neuron on a negative core")
    if slots.size and (slots.min() < 0 or slots.max() >= tgt.core.max_neurons):
        raise TargetError(f"place put a neuron outside the {tgt.core.max_neurons} compartments of a core")
    if np.unique(cores * tgt.core.max_neurons + slots).size != cores.size:
        raise TargetError("place put two neurons in one compartment")
    check_joins_kept(graph, core_of)
    limits = CoreLimits.from_target(tgt)
    axons = graph_input_axons(graph, core_of, tgt, n_cores)
    bad = violations(count(limits, n_cores, core_of, axons), limits)
    if bad:
        raise TargetError(f"place violated a capacity ({bad[0]}; {len(bad)} violation(s))")


def verify_image_capacities(img, target) -> list:
    """Capacity violations of a compiled image, recounted from its arrays alone
    (:func:`neuromap.capacity.image_usage`; inputs are host-side). [] = every core fits ``target``."""
    limits = CoreLimits.from_target(target)
    return violations(image_usage(img, limits), limits)
