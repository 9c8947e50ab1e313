"""TrueNorth compile passes: quantize to ``truenorth`` units, fill cores in order, legalize, lower to an Image.

The ``truenorth`` core kind's passes (a target whose ``core.memory_model`` is ``crossbar``,
:func:`is_truenorth`) in the one pass list of :mod:`neuromap.compiler.pipeline` (each with a verifier):

1. ``quantize``: float ``if``/``lif`` -> ``truenorth`` neurons, 9-bit integer weights
   (:mod:`neuromap.compiler.quantize_truenorth`); plastic projections frozen (warning).
2. ``place``: fill cores in population order, ``core.max_neurons`` (256) per core, a new core per
   population (the graph placer of ``neuromap/placement`` counts Loihi synapse memory and one axon per
   source, not crossbar rows per (source, delay) and splitters, so it is not used here).
3. ``lower``: per core one crossbar row (axon) per (projection, source, delay) feeding it; the
   target weights of each core are legalized into axon types, a binary crossbar and per-neuron 9-bit
   weights (:func:`neuromap.truenorth.crossbar.auto_split`, CP-SAT; mixed-sign rows may get Eedn-style
   input copies); every source with several target axons gets splitter neurons on extra cores
   (:func:`neuromap.truenorth.fanout.legalize_fanout`, delays compensated where 1..15 allows); then the
   :class:`~neuromap.image.Image` with the TrueNorth fields (docs/image-format.md).

Options: ``time_limit``/``deterministic`` (the budget of all crossbar and fan-out solves together:
wall seconds, or work units; default :func:`~neuromap.placement.budget.default_time_limit`; each
core gets an equal share of what is left, :mod:`neuromap.placement.budget`), ``tn_time_limit`` (cap
per CP-SAT solve in the same unit, default 2), ``tn_split`` (input copies, default True),
``seed`` (clustering/CP-SAT seed). The report (:class:`TrueNorthReport`) lands in ``reports.truenorth``
(the image's ``options["truenorth"]``; ``time_split_s``: wall seconds of ``tn.crossbar`` and ``tn.fanout``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap.compiler.lower import lower_inputs
from neuromap.compiler.place import placement_time_limit
from neuromap.compiler.quantize_truenorth import TNQuantReport, quantize_truenorth
from neuromap.compiler.reset import check_reset
from neuromap.errors import TargetError
from neuromap.image import Image, PopulationMap, ProbeMap, ProjectionMap
from neuromap.network import Network, network_hash
from neuromap.neurons.truenorth import core_fields
from neuromap.placement.budget import Budget
from neuromap.poisson_stream import DEFAULT_KIND
from neuromap.truenorth.crossbar import auto_split, legalize_crossbar
from neuromap.truenorth.fanout import SPLITTER_PARAMS, legalize_fanout
from neuromap.truenorth.report import CrossbarReport

INPUT_MODELS = ("spike_source", "poisson")
SPLITTER_POP = "_tn_splitters"
SPLITTER_PROJ = "_tn_fanout"


@dataclass
class TrueNorthReport:
    """What the TrueNorth passes did (the image's ``options["truenorth"]``, docs/json.md): the quantization
    report, every warning (quantization and legalization), the ``place`` pass's summary line, the
    crossbar legalization (:meth:`~neuromap.truenorth.report.CrossbarReport.to_dict` plus
    ``by_projection``: synapses dropped and sign flips per projection), the fan-out legalization
    (splitters, splitter cores, solver, uncompensated routes, ``max_phi``: ticks of retiming), wall
    seconds per phase and the budget (seconds, or work units when ``deterministic``)."""

    quantization: TNQuantReport
    warnings: list[str] = field(default_factory=list)
    placement: str | None = None
    crossbar: dict[str, Any] | None = None
    fanout: dict[str, Any] | None = None
    time_split_s: dict[str, float] | None = None
    time_limit: float | None = None
    deterministic: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"quantization": self.quantization.to_dict(), "warnings": list(self.warnings)}
        for k in ("placement", "crossbar", "fanout", "time_split_s", "time_limit", "deterministic"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrueNorthReport":
        known = {f.name for f in dataclasses.fields(cls)} - {"quantization"}
        return cls(TNQuantReport.from_dict(d["quantization"]), **{k: v for k, v in d.items() if k in known})

    def crossbar_line(self) -> str:
        """One line: crossbar weight error, synapses dropped, cores proven optimal, splitters."""
        t, fo = (self.crossbar or {}).get("totals") or {}, self.fanout or {}
        return (f"truenorth: {self.placement}; crossbar weight error {100 * t.get('rel_error', 0):.2f}% L1 "
                f"({t.get('dropped', 0)} synapses dropped by the crossbar, "
                f"{t.get('optimal_cores', 0)}/{t.get('cores', 0)} cores proven optimal); "
                f"{fo.get('splitters', 0)} splitter neurons on {fo.get('splitter_cores', 0)} cores")


def is_truenorth(target: Any) -> bool:
    """True for TrueNorth-style targets (binary crossbar cores)."""
    return getattr(target.core, "memory_model", "") == "crossbar"


# ------------------------------------------------------------------ pass 1: quantize
def quantize_pass(st):
    """Pass ``quantize`` on TrueNorth targets: float neurons -> ``truenorth`` units (``reports.truenorth``)."""
    approx = check_reset(st.network, st.target.name, bool(st.options.allow_reset_approximation),
                         exact_models=("if",))     # linear reset mode gamma = 1
    hw, rep = quantize_truenorth(st.network, st.target)
    dmax = min(15, st.target.synapse.delay_max)
    where = f"{st.network.source}: " if st.network.source else ""
    for i, pr in enumerate(hw.projections):
        if pr.n_synapses and (pr.delay.min() < 1 or pr.delay.max() > dmax):
            raise TargetError(f"{where}projections[{i}] ({pr.name}).delay: {int(pr.delay.max())} is outside "
                              f"[1, {dmax}] ticks on {st.target.name!r} (4-bit axonal delays; shorten it)")
    reports = dataclasses.replace(st.reports, truenorth=TrueNorthReport(rep, list(rep.warnings)),
                                  reset_approximated=approx or None)
    return dataclasses.replace(st, network=hw, quantized_network=hw, reports=reports)


def verify_quantized(st) -> None:
    for name, pop in st.network.populations.items():
        if pop.model not in INPUT_MODELS + ("truenorth",):
            raise TargetError(f"tn_quantize left population {name!r} as {pop.model!r} (expected truenorth)")
    for pr in st.network.projections:
        w = pr.weight
        if w.size and (np.any(w != np.rint(w)) or np.abs(w).max() > 255 or pr.plasticity is not None):
            raise TargetError(f"tn_quantize left projection {pr.name!r} with non-9-bit or plastic weights")


# ------------------------------------------------------------------ pass 2: place (fill in order)
def place_pass(st):
    cap = int(st.target.core.max_neurons)
    placement, core = {}, 0
    for name, pop in st.network.populations.items():
        if pop.model in INPUT_MODELS:
            continue
        g = np.arange(pop.size, dtype=np.int64)
        placement[name] = (core + g // cap, g % cap)
        core += -(-pop.size // cap)
    tn = dataclasses.replace(st.reports.truenorth,
                             placement=f"fill in order: {core} cores of up to {cap} neurons, one population per core")
    return dataclasses.replace(st, placement=placement, reports=dataclasses.replace(st.reports, truenorth=tn))


def verify_place(st) -> None:
    cap = int(st.target.core.max_neurons)
    pl = st.placement or {}
    keys = []
    for name, pop in st.network.populations.items():
        if pop.model in INPUT_MODELS:
            continue
        if name not in pl or pl[name][0].shape != (pop.size,):
            raise TargetError(f"tn_place left population {name!r} unplaced")
        c, s = pl[name]
        if s.size and (s.min() < 0 or s.max() >= cap):
            raise TargetError(f"tn_place put a neuron of {name!r} outside the {cap} neurons of a core")
        keys.append(c * cap + s)
    k = np.concatenate(keys or [np.zeros(0, np.int64)])
    if np.unique(k).size != k.size:
        raise TargetError("tn_place put two neurons on one (core, slot)")


# ------------------------------------------------------------------ pass 3: lower
def lower_pass(st):
    """Pass ``lower`` on TrueNorth targets: crossbar and fan-out legalization, the image."""
    image, tn = lower_truenorth(st.network, st.target, st.placement, st.options, st.reports.truenorth)
    return dataclasses.replace(st, image=image, reports=dataclasses.replace(st.reports, truenorth=tn))


def verify_lowered(st) -> None:
    if st.image is None:
        raise TargetError("tn_lower produced no image")
    st.image.verify()
    if st.image.n_cores > st.target.n_cores:
        raise TargetError(f"the network needs {st.image.n_cores} cores, more than target {st.target.name!r} has")


def _populations(net: Network) -> tuple[list[PopulationMap], int, int]:
    pops, n_neu, n_inp = [], 0, 0
    for name, pop in net.populations.items():
        if pop.model in INPUT_MODELS:
            pops.append(PopulationMap(name, "input", pop.model, n_inp, pop.size))
            n_inp += pop.size
        else:
            pops.append(PopulationMap(name, "neuron", pop.model, n_neu, pop.size))
            n_neu += pop.size
    return pops, n_neu, n_inp


def _neuron_fields(net: Network, pops: list[PopulationMap], n_neu: int) -> dict[str, np.ndarray]:
    """Per-neuron TrueNorth parameters of the network's neurons (image names)."""
    parts = [core_fields(net.populations[p.name].neuron, p.size) for p in pops if p.kind == "neuron"]
    cat = lambda k, shape: np.concatenate([f[k] for f in parts]) if parts else np.zeros(shape)  # noqa: E731
    return {"tn_lambda": cat("lam", 0).astype(np.int16), "tn_c_lambda": cat("c_lambda", 0).astype(np.uint8),
            "tn_epsilon": cat("epsilon", 0).astype(np.uint8), "tn_alpha": cat("alpha", 0).astype(np.int32),
            "tn_beta": cat("beta", 0).astype(np.int32), "tn_TM": cat("TM", 0).astype(np.uint8),
            "tn_gamma": cat("gamma", 0).astype(np.uint8), "tn_kappa": cat("kappa", 0).astype(np.uint8),
            "tn_R": cat("R", 0).astype(np.int32), "tn_b": cat("b", (0, 4)).astype(np.uint8),
            "v_init": cat("V0", 0).astype(np.int32), "tn_s": np.zeros((n_neu, 4), np.int16)}


def lower_truenorth(net: Network, target: Any, placement: dict, options,
                    tn_report: TrueNorthReport) -> tuple[Image, TrueNorthReport]:
    """Legalize crossbars and fan-out of a placed ``truenorth`` network and build its Image; ``options``:
    :class:`~neuromap.compiler.result.CompileOptions`; returns the image and ``tn_report`` completed with the
    crossbar and fan-out legalization (warnings appended)."""
    pops, N, I = _populations(net)
    start = {p.name: p.start for p in pops}
    kind = {p.name: p.kind for p in pops}
    npops = [p for p in pops if p.kind == "neuron"]
    core = np.concatenate([placement[p.name][0] for p in npops] or [np.zeros(0)]).astype(np.int64)
    slot = np.concatenate([placement[p.name][1] for p in npops] or [np.zeros(0)]).astype(np.int64)
    C = int(core.max()) + 1 if N else 0
    nf = _neuron_fields(net, pops, N)
    time_limit = float(options.tn_time_limit)
    budget = Budget(*placement_time_limit(options, sum(int(pr.n_synapses) for pr in net.projections)))
    seed = int(options.seed)
    warnings = list(tn_report.warnings)

    # ---- target weights per (core, projection, source, delay) row
    cols = {k: [] for k in ("core", "proj", "src", "d", "post", "w")}
    for k, pr in enumerate(net.projections):
        base = start[pr.pre] + (0 if kind[pr.pre] == "neuron" else N)
        post = start[pr.post] + pr.post_idx.astype(np.int64)
        for key, v in (("core", core[post]), ("proj", np.full(post.size, k)), ("src", base + pr.pre_idx),
                       ("d", pr.delay), ("post", post), ("w", pr.weight)):
            cols[key].append(np.asarray(v))
    c = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    for k in ("core", "proj", "src", "d", "post"):
        c[k] = c[k].astype(np.int64)
    keep = c["w"] != 0
    c = {k: v[keep] for k, v in c.items()}
    rows = np.stack([c["core"], c["proj"], c["src"], c["d"]], axis=1) if c["w"].size else np.zeros((0, 4), np.int64)
    ukeys, row_of = np.unique(rows, axis=0, return_inverse=True)
    row_of = row_of.reshape(-1)

    report = CrossbarReport()
    by_proj_dropped = np.zeros(len(net.projections), np.int64)   # target synapses the crossbar realized as 0
    by_proj_flips = np.zeros(len(net.projections), np.int64)     # ... with the opposite sign
    s = nf["tn_s"]
    phys = []          # per core: list of (proj, src, delay) per physical axon, crossbar, types
    for cid in range(C):
        members = np.flatnonzero(core == cid)
        members = members[np.argsort(slot[members], kind="stable")]   # column j = members[j]
        mslot = slot[members]
        rk = np.flatnonzero(ukeys[:, 0] == cid)
        W = np.zeros((rk.size, members.size))
        sel = np.isin(row_of, rk)
        np.add.at(W, (np.searchsorted(rk, row_of[sel]), np.searchsorted(mslot, slot[c["post"][sel]])), c["w"][sel])
        kw = dict(time_limit=time_limit, seed=seed, budget=budget.sub(1.0 / (C - cid + 1)))
        if rk.size > 256:
            raise TargetError(f"core {cid}: {rk.size} axons needed (one per source and delay), more than 256 "
                              "(reduce the fan-in of its neurons)")
        mixed = (W > 0).any(axis=1) & (W < 0).any(axis=1)
        with budget.phase("tn.crossbar"):
            if options.tn_split and mixed.any() and rk.size < 256:
                sol = auto_split(W, **kw)
            else:
                sol = legalize_crossbar(W, **kw)
        report.add(cid, W, sol)
        lost = (W != 0) & (np.asarray(sol.realized) == 0)       # per target synapse: dropped by the crossbar
        flip = np.sign(W) * np.sign(sol.realized) < 0
        cell_proj = np.repeat(ukeys[rk][:, 1], members.size)     # projection of each (row, neuron) cell
        by_proj_dropped += np.bincount(cell_proj[lost.reshape(-1)], minlength=by_proj_dropped.size)
        by_proj_flips += np.bincount(cell_proj[flip.reshape(-1)], minlength=by_proj_flips.size)
        s[members] = sol.s
        phys.append((ukeys[rk][sol.axon_input][:, 1:], sol.crossbar, sol.axon_type, members))

    # ---- fan-out: one route per (physical axon) from its source
    src, dcore, dax, dl = [], [], [], []
    axon_posts = {}
    for cid, (keys, xb, _, mem) in enumerate(phys):
        for a in range(keys.shape[0]):
            src.append(keys[a, 1])
            dcore.append(cid)
            dax.append(a)
            dl.append(keys[a, 2])
            axon_posts[(cid, a)] = mem[np.flatnonzero(xb[a])]
    is_input = np.arange(N + I) >= N
    with budget.phase("tn.fanout"):
        plan = legalize_fanout(N + I, np.array(src, np.int64), np.array(dcore, np.int64), np.array(dax, np.int64),
                               np.array(dl, np.int64), axon_posts, is_input, time_limit=time_limit, budget=budget)
    if plan.uncompensated().size:
        lines = plan.describe(np.array(src), np.array(dcore), np.array(dax), np.array(dl))
        warnings.append(f"fan-out: {len(lines)} route(s) keep a timing error: {lines[0]}")
    late = np.flatnonzero(plan.phi[:N])
    if late.size:
        warnings.append(f"fan-out: {late.size} neuron(s) spike up to {int(plan.phi.max())} tick(s) later than in "
                        "the source network (retiming around splitters)")
    sps = sorted(plan.splitters, key=lambda sp: (sp.core, sp.slot))
    NS = len(sps)
    NT = N + NS
    n_sc = plan.n_splitter_cores

    # ---- neurons (network, then splitters)
    def grow(a, v):
        return np.concatenate([a, np.broadcast_to(np.asarray(v, a.dtype), (NS,) + a.shape[1:])])
    neurons = {k: v for k, v in nf.items()}
    for k, key in (("tn_lambda", "lam"), ("tn_beta", "beta"), ("tn_alpha", "alpha"), ("tn_gamma", "gamma"),
                   ("tn_R", "R"), ("tn_kappa", "kappa")):
        neurons[k] = grow(neurons[k], int(SPLITTER_PARAMS[key]))
    for k in ("tn_c_lambda", "tn_epsilon", "tn_TM", "tn_b", "v_init"):
        neurons[k] = grow(neurons[k], 0)
    ss = np.zeros((NS, 4), np.int16)
    ss[:, 0] = 1
    neurons["tn_s"] = np.concatenate([s, ss])
    neurons["core"] = np.concatenate([core, [C + sp.core for sp in sps]]).astype(np.int32)
    neurons["slot"] = np.concatenate([slot, [sp.slot for sp in sps]]).astype(np.int32)
    for k, dt in (("du", np.uint16), ("dv", np.uint16), ("vth", np.int32), ("bias_mant", np.int16),
                  ("bias_exp", np.int8), ("u_init", np.int32)):
        neurons[k] = np.zeros(NT, dt)

    # ---- axons and synapses, core by core (splitter cores after the network's)
    gid = np.full((C + n_sc, 256), -1, np.int64)        # (core, slot) -> global neuron
    gid[neurons["core"], neurons["slot"]] = np.arange(NT)
    ax_proj, ax_type, syn_ptr, posts, weights, n_ax = [], [], [0], [], [], []
    for keys, xb, types, mem in phys:
        for a in range(keys.shape[0]):
            j = np.flatnonzero(xb[a])
            g = mem[j]
            ax_proj.append(keys[a, 0])
            ax_type.append(types[a])
            posts.append(g)
            weights.append(neurons["tn_s"][g, types[a]])
            syn_ptr.append(syn_ptr[-1] + g.size)
        n_ax.append(keys.shape[0])
    P = len(net.projections)
    for sc in range(n_sc):
        groups = sorted({sp.axon for sp in sps if sp.core == sc})
        for a in range(max(groups) + 1):
            g = np.array(sorted(gid[C + sc, sp.slot] for sp in sps if sp.core == sc and sp.axon == a), np.int64)
            ax_proj.append(P)
            ax_type.append(0)
            posts.append(g)
            weights.append(np.ones(g.size, np.int16))
            syn_ptr.append(syn_ptr[-1] + g.size)
        n_ax.append(max(groups) + 1)
    axon_ptr = np.concatenate([[0], np.cumsum(n_ax)]).astype(np.int64)

    # ---- routes per source id (network neurons, splitters, then inputs)
    routes = [[] for _ in range(NT + I)]
    real = plan.realized
    for k in range(len(src)):
        u = src[k]
        if is_input[u]:
            routes[NS + u].append((dcore[k], dax[k], int(real[k])))
    for u in range(N):
        tc, ta, td = (int(x) for x in plan.src_target[u])
        if tc >= 0:
            routes[u].append((tc, ta, td))
        elif td > 0:            # (-1 - c, axon, d_src): the axon of splitter core c
            routes[u].append((C + (-1 - tc), ta, td))
    for i, sp in enumerate(sps):
        dc = sp.dst_core if sp.dst_core >= 0 else C + (-1 - sp.dst_core)
        routes[N + i].append((dc, sp.dst_axon, sp.delay))
    src_ptr = np.concatenate([[0], np.cumsum([len(r) for r in routes])]).astype(np.int64)
    flat = [e for r in routes for e in r]
    rt = np.array(flat, np.int64).reshape(-1, 3)
    if rt.size and rt[:, 2].max() > 64:
        raise TargetError(f"an input route needs a delay of {int(rt[:, 2].max())} ticks after retiming, more than "
                          "the image holds (64; shorten delays around fanned-out neurons)")

    projections = [ProjectionMap(pr.name, pr.pre, pr.post, 0, 8, pr.hw["sign_mode"] if pr.hw else "mixed", "dense")
                   for pr in net.projections]
    if NS:
        pops = pops + [PopulationMap(SPLITTER_POP, "neuron", "truenorth", N, NS)]
        projections.append(ProjectionMap(SPLITTER_PROJ, SPLITTER_POP, SPLITTER_POP, 0, 8, "excitatory", "dense"))
    probes = [ProbeMap(p.population, tuple(v for v in p.variables if v in ("spikes", "v")),
                       None if p.neurons is None else np.asarray(p.neurons, np.int64)) for p in net.probes]
    crossbar = report.to_dict()
    crossbar["by_projection"] = [{"name": pr.name, "dropped": int(by_proj_dropped[k]),
                                  "sign_flips": int(by_proj_flips[k])} for k, pr in enumerate(net.projections)]
    tn = dataclasses.replace(tn_report, crossbar=crossbar, warnings=warnings,
                             fanout={"splitters": NS, "splitter_cores": n_sc, "solver": plan.solver,
                                     "uncompensated_routes": int(plan.uncompensated().size),
                                     "max_phi": int(plan.phi[:N].max(initial=0))},
                             time_split_s={k: round(v, 4) for k, v in budget.split.items()}, time_limit=budget.limit,
                             deterministic=budget.deterministic)
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return Image(
        target=target.name,
        constants={"neuron": dataclasses.asdict(target.neuron), "synapse": dataclasses.asdict(target.synapse),
                   "core": dataclasses.asdict(target.core)},
        core_kinds=["truenorth"], populations=pops, projections=projections, probes=probes, neurons=neurons,
        cores={"kind": np.zeros(C + n_sc, np.int8), "axon_ptr": axon_ptr},
        axons={"proj": np.array(ax_proj, np.int32), "syn_ptr": np.array(syn_ptr, np.int64),
               "tn_type": np.array(ax_type, np.uint8)},
        synapses={"post": cat(posts, np.int32), "weight": cat(weights, np.int16),
                  "delay": np.ones(sum(p.size for p in posts), np.uint8)},
        routes={"src_ptr": src_ptr, "core": rt[:, 0].astype(np.int32), "axon": rt[:, 1].astype(np.int32),
                "delay": rt[:, 2].astype(np.uint8)},
        inputs=lower_inputs(net, pops, I), seed=net.seed, source_hash=network_hash(net), options={},
        network_name=net.name, poisson_stream=DEFAULT_KIND), tn
