"""Lowering: a placed hardware-unit network -> :class:`neuromap.image.Image`.

* Neurons: ``loihi_lif`` parameters copied into the per-neuron arrays (hardware integers).
* Synapses of one projection between one (pre, post) pair are merged into one
  synapse whose integer weight is their sum (a Lava ``Dense`` matrix holds one
  weight per pair); they must share a delay. Weights are then encoded with
  :func:`neuromap.image.encode_weights` (Lava's clip to 8 bits and truncation to
  ``num_weight_bits``).
* One axon per (destination core, projection, source neuron); axons sorted by core
  (core-local ids follow projection then source order); synapses of an axon sorted
  by post neuron. Routing table: per source, one entry per axon (delay 0: delays are
  synaptic on Loihi).
* Plastic projections (rules ``loihi``, ``stdp_loihi``): ``ProjectionMap.learning`` =
  ``{"engine": "loihi", **LearningConfig.to_dict()}`` with the projection's sign mode and
  weight bits (docs/learning.md).
* Inputs: ``spike_source`` times become (step, input id) pairs; ``poisson`` rates
  become expected events per step ``rate * dt / 1000`` (above 1: several events per step).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numba
import numpy as np

from neuromap.compiler.arithmetic import lif_arithmetic
from neuromap.counting_sort import index_dtype, stable_order
from neuromap.errors import TargetError
from neuromap.image import Image, PopulationMap, ProbeMap, ProjectionMap, encode_weights, weight_range, weight_step
from neuromap.network import Network, network_hash
from neuromap.neurons.poisson import events_per_step
from neuromap.placement.graph import pairs_increasing, sorted_groups
from neuromap.plasticity import hardware_rules, rule_class

_NEURON_ARRAYS = {"du": np.uint16, "dv": np.uint16, "vth": np.int32, "bias_mant": np.int16,
                  "bias_exp": np.int8, "u": np.int32, "v": np.int32}
_DENSE_HINT = 0.5   # projections at least this dense are marked storage "dense"


def _merge_pairs(pr, n_post: int, fld: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pre, post, summed integer weight, delay) with one entry per distinct (pre, post); for each pre
    its posts ascending. O(synapses) when the projection is in the usual post-major order without
    repeated pairs (every key larger than the one before: nothing to merge); otherwise one sort."""
    pre_i, post_i = np.asarray(pr.pre_idx), np.asarray(pr.post_idx)
    n_pre = int(pre_i.max(initial=-1)) + 1
    if pre_i.size < 2 or pairs_increasing(post_i, pre_i, max(n_pre, 1)):
        return pre_i, post_i, np.rint(pr.weight).astype(np.int64), np.asarray(pr.delay)
    # pairs in (pre, post) order by two counting sorts; each pair's integer weights summed, delays equal
    perm, starts = sorted_groups(pre_i, max(n_pre, 1), post_i, n_post)
    w = np.add.reduceat(np.rint(np.asarray(pr.weight)[perm]).astype(np.int64), starts)
    d_sorted = np.asarray(pr.delay)[perm]
    if np.any(np.maximum.reduceat(d_sorted, starts) != np.minimum.reduceat(d_sorted, starts)):
        raise TargetError(f"{fld}: two synapses between the same neuron pair have different delays "
                          "(a Loihi projection holds one synapse per pair; split the projection)")
    first = perm[starts]
    return pre_i[first].astype(np.int64), post_i[first].astype(np.int64), w, d_sorted[starts].astype(np.int64)


def _spike_steps(neuron: dict, dt: float) -> list[np.ndarray]:
    """Per neuron, the sorted distinct steps of a ``spike_source``: ``times`` (ms) at ``round(t / dt)``,
    or ``spike_times`` given in steps."""
    if "times" in neuron:
        return [np.unique(np.rint(np.asarray(tt, float) / dt).astype(np.int64)) for tt in neuron["times"]]
    return [np.unique(np.asarray(tt, np.int64)) for tt in neuron["spike_times"]]


def _learning(pr, fld: str) -> tuple[dict | None, dict]:
    """``ProjectionMap.learning`` and ``learning_arrays`` of a projection: the rule's ``to_image`` for a
    hardware-unit rule (``{"engine": "loihi", **LearningConfig.to_dict()}``), None for a static one."""
    if pr.hw and pr.hw.get("learning"):        # integer seed-rule engine set by quantize (quantize_learning)
        return dict(pr.hw["learning"]), dict(pr.hw.get("learning_arrays", {}))
    if pr.plasticity is None:
        return None, {}
    rule = pr.plasticity["rule"]
    if rule not in hardware_rules():
        raise TargetError(f"{fld}.plasticity: {rule} is not a learning-engine rule (use stdp_loihi or loihi)")
    return rule_class(rule).to_image(pr.plasticity, pr.hw, f"{fld}.plasticity")


def weight_encoding_note(fld: str, raw: np.ndarray, stored: np.ndarray, hw: dict) -> str | None:
    """A one-line warning when the synapse memory cannot hold a projection's integer weights as given:
    Lava clips them to 8 bits (+ sign) and truncates them to ``num_weight_bits``, and so does the image
    (:func:`~neuromap.image.encode_weights`), so results stay bit-identical to Lava; None if nothing changed."""
    raw = np.asarray(raw, np.int64)
    changed = raw != stored
    if not changed.any():
        return None
    lo, hi = weight_range(hw["sign_mode"])
    clipped = int(np.count_nonzero((raw < lo) | (raw > hi)))
    trunc = int(np.count_nonzero(changed)) - clipped
    parts = ([f"{clipped} clipped to [{lo}, {hi}]"] if clipped else []) + \
        ([f"{trunc} truncated to multiples of {weight_step(hw['sign_mode'], hw['num_weight_bits'])}"]
         if trunc else [])
    return (f"{fld}: {' and '.join(parts)} of {raw.size} weights (sign_mode {hw['sign_mode']}, "
            f"num_weight_bits {hw['num_weight_bits']}), as Lava does; use weight_exp to keep larger weights")


def lower_inputs(net: Network, pops: list[PopulationMap], n_inp: int) -> dict[str, np.ndarray]:
    """The image's ``inputs`` arrays: ``spike_source`` times -> (step, input id) pairs sorted by step then
    input; ``poisson`` rates -> expected events per step ``rate * dt / 1000`` (NaN otherwise): a Bernoulli
    probability up to 1, a Poisson count mean above (docs/image-format.md, *Inputs*)."""
    steps, ids, pp = [], [], np.full(n_inp, np.nan)
    for p in pops:
        if p.model == "spike_source":
            for i, tt in enumerate(_spike_steps(net.populations[p.name].neuron, net.dt)):
                steps.append(tt)
                ids.append(np.full(tt.size, p.start + i, np.int64))
        elif p.model == "poisson":
            rate = np.broadcast_to(np.asarray(net.populations[p.name].neuron["rate"], float), (p.size,))
            pp[p.start:p.start + p.size] = events_per_step(rate, net.dt)
    st = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    ix = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    io = np.lexsort((ix, st))
    return {"spike_step": st[io], "spike_index": ix[io].astype(np.int32), "poisson_p": pp}


def lower_to_image(net: Network, target: Any, placement: dict,
                   core_positions: dict[str, np.ndarray] | None = None) -> tuple[Image, list[str]]:
    """The image of a placed hardware-unit network (``placement``: population -> (core, slot) arrays;
    ``core_positions``: ``tile_x``/``tile_y``/``chip`` of every core, when the place pass computed them)
    and one line per projection whose weights the synapse memory cannot hold as given
    (:func:`weight_encoding_note`). The image's ``options`` are left empty for the pipeline to fill."""
    pops, n_neu, n_inp = [], 0, 0
    start: dict[str, int] = {}
    for name, pop in net.populations.items():
        kind = "input" if pop.model in ("spike_source", "poisson") else "neuron"
        first = n_neu if kind == "neuron" else n_inp
        pops.append(PopulationMap(name, kind, pop.model, first, pop.size))
        start[name] = first
        if kind == "neuron":
            n_neu += pop.size
        else:
            n_inp += pop.size
    neuron_pops = [p for p in pops if p.kind == "neuron"]
    full = lambda v, n, dt: np.broadcast_to(np.asarray(v), (n,)).astype(dt)  # noqa: E731
    neurons = {k: np.concatenate([full(net.populations[p.name].neuron[k], p.size, dt) for p in neuron_pops]
                                 or [np.zeros(0, dt)]) for k, dt in _NEURON_ARRAYS.items()}
    refr = np.concatenate([full(net.populations[p.name].neuron.get("refractory", 0), p.size, np.int64)
                           for p in neuron_pops] or [np.zeros(0, np.int64)])
    if np.any(refr):            # optional field (neuromap extension): written only when used
        neurons["refractory"] = refr.astype(np.uint8)
    joins = {p.name: net.populations[p.name].neuron.get("join", "") for p in neuron_pops}
    if any(joins.values()):     # dendrite compartments (optional field, neuromap extension): written only when used
        neurons["join_parent"] = np.concatenate([_join_parents(net, p, joins[p.name], start) for p in neuron_pops])
    neurons["u_init"] = neurons.pop("u")
    neurons["v_init"] = neurons.pop("v")
    neurons["core"] = np.concatenate([placement[p.name][0] for p in neuron_pops] or [np.zeros(0)]).astype(np.int32)
    neurons["slot"] = np.concatenate([placement[p.name][1] for p in neuron_pops] or [np.zeros(0)]).astype(np.int32)
    n_cores = int(neurons["core"].max()) + 1 if n_neu else 0
    kind_of = {p.name: p.kind for p in pops}

    # ---- synapses of every projection (merged pairs, encoded weights), in narrow dtypes
    merged = []
    projections = []
    encoding_notes: list[str] = []
    for k, pr in enumerate(net.projections):
        fld = f"projections[{k}] ({pr.name})"
        post_pop = net.populations[pr.post]
        pre, post, w, d = _merge_pairs(pr, post_pop.size, fld)
        hw = pr.hw
        enc = encode_weights(w, hw["sign_mode"], hw["num_weight_bits"])
        note = weight_encoding_note(fld, w, enc, hw)
        if note:
            encoding_notes.append(note)
        src_base = start[pr.pre] + (0 if kind_of[pr.pre] == "neuron" else n_neu)
        merged.append((src_base, start[pr.post], pre, post, enc, d))
        density = pre.size / max(1, net.populations[pr.pre].size * post_pop.size)
        learning, arrays = _learning(pr, fld)
        projections.append(ProjectionMap(pr.name, pr.pre, pr.post, int(hw["weight_exp"]),
                                         int(hw["num_weight_bits"]), hw["sign_mode"],
                                         "dense" if density >= _DENSE_HINT else "sparse", learning, arrays))
        del pre, post, w, d, enc
    lay = synapse_layout(merged, neurons["core"], n_cores, n_neu + n_inp)
    del merged
    syn_ptr, axon_ptr, ax_proj = lay["syn_ptr"], lay["axon_ptr"], lay["ax_proj"]
    src_ptr, r_core, r_axon = lay["src_ptr"], lay["route_core"], lay["route_axon"]
    A = ax_proj.shape[0]

    inputs = lower_inputs(net, pops, n_inp)

    positions = core_positions or {}
    probes = [ProbeMap(pr.population, tuple(pr.variables), None if pr.neurons is None else
                       np.asarray(pr.neurons, np.int64)) for pr in net.probes]
    return Image(
        target=target.name,
        constants={"neuron": dataclasses.asdict(target.neuron), "synapse": dataclasses.asdict(target.synapse),
                   "core": dataclasses.asdict(target.core),
                   "synapse_memory": dataclasses.asdict(target.synapse_memory)},
        core_kinds=["loihi_lif"], arithmetic=lif_arithmetic(target), populations=pops, projections=projections,
        probes=probes, neurons=neurons,
        cores={"kind": np.zeros(n_cores, np.int8), "axon_ptr": axon_ptr, **positions},
        axons={"proj": ax_proj, "syn_ptr": syn_ptr},
        synapses={"post": lay["post"], "weight": lay["weight"], "delay": lay["delay"]},
        routes={"src_ptr": src_ptr, "core": r_core, "axon": r_axon, "delay": np.zeros(A, np.uint8)},
        inputs=inputs,
        seed=net.seed, source_hash=network_hash(net), options={}, network_name=net.name), encoding_notes


def _join_parents(net: Network, p: PopulationMap, soma: str, start: dict[str, int]) -> np.ndarray:
    """``neurons.join_parent`` of population ``p``: -1, or the global ids of population ``soma``'s neurons (neuron
    i joins neuron i) when ``p`` is its dendrite compartments."""
    if not soma:
        return np.full(p.size, -1, np.int32)
    fld = f"populations.{p.name}.neuron.join"
    target = net.populations.get(soma)
    if target is None or target.model != "loihi_lif" or soma == p.name:
        raise TargetError(f"{fld}: {soma!r} is not another loihi_lif population (name the soma population)")
    if target.size != p.size or target.neuron.get("join", ""):
        raise TargetError(f"{fld}: {soma!r} must be a root population of the same size ({p.size} neurons, no join "
                          "of its own)")
    return (start[soma] + np.arange(p.size)).astype(np.int32)


# ---------------------------------------------------------------------- synapse layout (O(synapses))
@numba.njit(cache=True)
def _gather(perm, core, proj, src, post, w, d, post_o, w_o, d_o):  # pragma: no cover - compiled
    """Synapses in ``perm`` order; returns the start of every axon (a new (core, projection, source))."""
    S = perm.shape[0]
    A = 0
    for i in range(S):
        k = perm[i]
        post_o[i] = post[k]
        w_o[i] = w[k]
        d_o[i] = d[k]
        if i == 0 or core[k] != core[perm[i - 1]] or proj[k] != proj[perm[i - 1]] or src[k] != src[perm[i - 1]]:
            A += 1
    first = np.empty(A, np.int64)
    a = 0
    for i in range(S):
        k = perm[i]
        if i == 0 or core[k] != core[perm[i - 1]] or proj[k] != proj[perm[i - 1]] or src[k] != src[perm[i - 1]]:
            first[a] = i
            a += 1
    return first


def synapse_layout(merged: list, neuron_core: np.ndarray, n_cores: int, n_sources: int) -> dict[str, np.ndarray]:
    """The image's synapse, axon and route arrays from per-projection merged synapses
    ``(source base, post population start, pre, post, encoded weight, delay)``.

    Order: synapses by (core of post, projection, source, post); one axon per (core, projection,
    source); routes per source in (projection, core) order. Counting sorts (:func:`stable_order`):
    O(synapses + neurons + cores), no comparison sort."""
    S = sum(m[2].shape[0] for m in merged)
    P = len(merged)
    core = np.empty(S, np.int32)
    proj = np.empty(S, np.int16 if P < 2 ** 15 else np.int32)
    src = np.empty(S, index_dtype(n_sources))
    post = np.empty(S, np.int32)
    w = np.empty(S, np.int16)
    d = np.empty(S, np.uint8)
    off = 0
    for k, (src_base, post_start, p, q, wk, dk) in enumerate(merged):
        e = off + p.shape[0]
        post[off:e] = q
        post[off:e] += post_start
        core[off:e] = neuron_core[post[off:e]]
        proj[off:e] = k
        src[off:e] = p
        src[off:e] += src_base
        w[off:e] = wk
        d[off:e] = dk
        off = e
    # (core, projection, source, post): posts already ascend within each (projection, source)
    perm = stable_order([(src, n_sources), (proj, P), (core, n_cores)], S)
    post_o, w_o, d_o = np.empty(S, np.int32), np.empty(S, np.int16), np.empty(S, np.uint8)
    first = _gather(perm, core, proj, src, post, w, d, post_o, w_o, d_o)
    del post, w, d
    sel = perm[first]
    ax_core, ax_proj, ax_src = core[sel].astype(np.int64), proj[sel].astype(np.int32), src[sel].astype(np.int64)
    del core, proj, src, perm, sel
    A = first.shape[0]
    axon_ptr = np.zeros(n_cores + 1, np.int64)
    np.cumsum(np.bincount(ax_core, minlength=n_cores), out=axon_ptr[1:])
    ax_local = np.arange(A, dtype=np.int64) - axon_ptr[ax_core]
    # routes: per source, its axons in (projection, core) order
    r = stable_order([(ax_proj, P), (ax_src, n_sources)], A)
    src_ptr = np.zeros(n_sources + 1, np.int64)
    np.cumsum(np.bincount(ax_src, minlength=n_sources), out=src_ptr[1:])
    return {"post": post_o, "weight": w_o, "delay": d_o, "syn_ptr": np.append(first, S).astype(np.int64),
            "axon_ptr": axon_ptr, "ax_proj": ax_proj, "src_ptr": src_ptr,
            "route_core": ax_core[r].astype(np.int32), "route_axon": ax_local[r].astype(np.int32)}
