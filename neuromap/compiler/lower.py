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
from neuromap.counting_sort import group_by_lookup, index_dtype
from neuromap.embedded import ControllerMap
from neuromap.errors import TargetError
from neuromap.image import Image, PopulationMap, ProbeMap, ProjectionMap, encode_weights, weight_range, weight_step
from neuromap.network import Network, network_hash
from neuromap.neurons.poisson import events_per_step
from neuromap.placement.graph import pairs_increasing, sorted_groups
from neuromap.plasticity import hardware_rules, rule_class
from neuromap.poisson_stream import DEFAULT_KIND

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
        return pre_i, post_i, integer_weights(pr.weight), np.asarray(pr.delay)
    # pairs in (pre, post) order by two counting sorts; each pair's integer weights summed, delays equal
    perm, starts = sorted_groups(pre_i, max(n_pre, 1), post_i, n_post)
    w = np.add.reduceat(integer_weights(np.asarray(pr.weight)[perm]), starts)
    d_sorted = np.asarray(pr.delay)[perm]
    if np.any(np.maximum.reduceat(d_sorted, starts) != np.minimum.reduceat(d_sorted, starts)):
        raise TargetError(f"{fld}: two synapses between the same neuron pair have different delays "
                          "(a Loihi projection holds one synapse per pair; split the projection)")
    first = perm[starts]
    return pre_i[first].astype(np.int64), post_i[first].astype(np.int64), w, d_sorted[starts].astype(np.int64)


def integer_weights(w: np.ndarray) -> np.ndarray:
    """A hardware-unit projection's weights as int64: float weights rounded to the nearest integer (the
    network format's floats), integer arrays (the quantize pass's mantissas) as they are."""
    w = np.asarray(w)
    return w.astype(np.int64) if w.dtype.kind in "iu" else np.rint(w).astype(np.int64)


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

    # ---- synapses of every projection (merged pairs, encoded weights), written at once into narrow
    # concatenated columns (no per-projection copies kept): global post id, axon key, weight, delay
    bound = sum(pr.n_synapses for pr in net.projections)        # merging only removes synapses
    n_akeys = sum(net.populations[pr.pre].size for pr in net.projections)
    post_c = np.empty(bound, np.int32)
    akey_c = np.empty(bound, index_dtype(max(n_akeys, 1)))
    w_c = np.empty(bound, np.int16)
    d_c = np.empty(bound, np.uint8)
    ak_src_base = np.zeros(len(net.projections), np.int64)   # per projection: first source id of its pre
    ak_size = np.zeros(len(net.projections), np.int64)       # and the pre population's size
    projections = []
    controllers: list[ControllerMap] = []
    encoding_notes: list[str] = []
    off = abase = 0
    for k, pr in enumerate(net.projections):
        fld = f"projections[{k}] ({pr.name})"
        post_pop = net.populations[pr.post]
        pre, post, w, d = _merge_pairs(pr, post_pop.size, fld)
        hw = pr.hw
        enc = encode_weights(w, hw["sign_mode"], hw["num_weight_bits"])
        note = weight_encoding_note(fld, w, enc, hw)
        if note:
            encoding_notes.append(note)
        e = off + pre.shape[0]
        np.add(post, start[pr.post], out=post_c[off:e], casting="unsafe")
        np.add(pre, abase, out=akey_c[off:e], casting="unsafe")
        w_c[off:e] = enc
        d_c[off:e] = d
        ak_src_base[k] = start[pr.pre] + (0 if kind_of[pr.pre] == "neuron" else n_neu)
        ak_size[k] = net.populations[pr.pre].size
        density = pre.size / max(1, net.populations[pr.pre].size * post_pop.size)
        learning, arrays = _learning(pr, fld)
        projections.append(ProjectionMap(pr.name, pr.pre, pr.post, int(hw["weight_exp"]),
                                         int(hw["num_weight_bits"]), hw["sign_mode"],
                                         "dense" if density >= _DENSE_HINT else "sparse", learning, arrays))
        if hw.get("controller"):
            c = hw["controller"]
            controllers.append(ControllerMap(c["kind"], k, c["period"], dict(c["fields"]), dict(c["arrays"])))
        off, abase = e, abase + int(ak_size[k])
        del pre, post, w, d, enc
    # handed over: layout_synapses releases each column once laid out (11 bytes per synapse gone before the axons)
    columns = [post_c[:off], akey_c[:off], w_c[:off], d_c[:off]]
    del post_c, akey_c, w_c, d_c
    lay = layout_synapses(columns, neurons["core"], n_cores)
    lay = layout_axons(lay, ak_src_base, ak_size, n_cores, n_neu + n_inp)
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
        seed=net.seed, source_hash=network_hash(net), options={}, network_name=net.name,
        controllers=controllers, poisson_stream=DEFAULT_KIND), encoding_notes


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
def _synapse_order(post, akey, neuron_core, n_cores, perm):  # pragma: no cover - compiled
    """``perm`` = the synapses stably sorted by (core of post, axon key): a counting sort by core, then a
    stable merge sort of each core's synapses by axon key (a core holds few: cache-local). Returns the start
    of every core's run (n_cores + 1)."""
    cnt = group_by_lookup(post, neuron_core, n_cores, perm)
    for c in range(n_cores):
        a, b = cnt[c], cnt[c + 1]
        if b - a < 2:
            continue
        seg = perm[a:b].copy()
        keys = np.empty(b - a, akey.dtype)
        ordered = True
        for j in range(b - a):
            keys[j] = akey[seg[j]]
            if j and keys[j] < keys[j - 1]:
                ordered = False
        if ordered:
            continue
        o = np.argsort(keys, kind="mergesort")
        for j in range(b - a):
            perm[a + j] = seg[o[j]]
    return cnt


@numba.njit(cache=True)
def _take(x, perm, out):  # pragma: no cover - compiled
    """``out[i] = x[perm[i]]`` (no int64 copy of an int32 ``perm``, as numpy's fancy indexing makes)."""
    for i in range(perm.shape[0]):
        out[i] = x[perm[i]]


@numba.njit(cache=True)
def _axon_runs(core_start, akey):  # pragma: no cover - compiled
    """The axons of synapses in image order: one per (core, axon key) run, as (first synapse, core, axon key)."""
    S = akey.shape[0]
    n_cores = core_start.shape[0] - 1
    A = 0
    for c in range(n_cores):
        for i in range(core_start[c], core_start[c + 1]):
            if i == core_start[c] or akey[i] != akey[i - 1]:
                A += 1
    first = np.empty(A + 1, np.int64)
    ax_core = np.empty(A, np.int32)
    ax_key = np.empty(A, akey.dtype)
    a = 0
    for c in range(n_cores):
        for i in range(core_start[c], core_start[c + 1]):
            if i == core_start[c] or akey[i] != akey[i - 1]:
                first[a] = i
                ax_core[a] = c
                ax_key[a] = akey[i]
                a += 1
    first[A] = S
    return first, ax_core, ax_key


@numba.njit(cache=True)
def _routes(ax_core, ax_key, axon_ptr, ak_src_base, ak_size, n_sources):  # pragma: no cover - compiled
    """Routes: per source (ascending), its axons in (projection, core) order; an axon key is (projection,
    pre neuron): key ``base[p] + j`` is source ``ak_src_base[p] + j``. Per key its first route (the source's
    keys in key order), then one pass over the axons in ascending order (so within a key by core): no
    per-axon sort index."""
    A = ax_core.shape[0]
    P = ak_size.shape[0]
    n_keys = 0
    for p in range(P):
        n_keys += ak_size[p]
    kcount = np.zeros(n_keys, np.int64)
    for a in range(A):
        kcount[ax_key[a]] += 1
    src_of_key = np.empty(n_keys, np.int64)
    k = 0
    for p in range(P):
        for j in range(ak_size[p]):
            src_of_key[k] = ak_src_base[p] + j
            k += 1
    src_ptr = np.zeros(n_sources + 1, np.int64)
    for k in range(n_keys):
        src_ptr[src_of_key[k] + 1] += kcount[k]
    for s in range(n_sources):
        src_ptr[s + 1] += src_ptr[s]
    fill = src_ptr[:-1].copy()
    for k in range(n_keys):                 # keys in (projection, pre) order: a source's keys in that order
        s = src_of_key[k]
        c = kcount[k]
        kcount[k] = fill[s]                 # the key's first route
        fill[s] += c
    r_core = np.empty(A, np.int32)
    r_axon = np.empty(A, np.int32)
    for a in range(A):                      # axons ascending: within a key by core, as the stable sort by key
        k = ax_key[a]
        r = kcount[k]
        kcount[k] = r + 1
        c = ax_core[a]
        r_core[r] = c
        r_axon[r] = a - axon_ptr[c]
    return src_ptr, r_core, r_axon


def synapse_layout(post: np.ndarray, akey: np.ndarray, w: np.ndarray, d: np.ndarray, ak_src_base: np.ndarray,
                   ak_size: np.ndarray, neuron_core: np.ndarray, n_cores: int, n_sources: int) -> dict[str, np.ndarray]:
    """The image's synapse, axon and route arrays from the merged synapses of every projection, concatenated
    in projection order (within one projection and pre neuron, posts ascending): global ``post`` id, axon
    key ``akey`` (projection ``p``'s pre neuron ``j`` is key ``sum(ak_size[:p]) + j``, source
    ``ak_src_base[p] + j``), encoded weight ``w`` and delay ``d``.

    Order: synapses by (core of post, projection, source, post); one axon per (core, projection, source);
    routes per source in (projection, core) order. O(synapses + neurons + cores) but for the per-core
    merge sort (a core's synapses: a few thousand), no comparison sort over the whole network."""
    lay = layout_synapses([post, akey, w, d], neuron_core, n_cores)
    return layout_axons(lay, ak_src_base, ak_size, n_cores, n_sources)


def layout_synapses(columns: list[np.ndarray], neuron_core: np.ndarray, n_cores: int) -> dict[str, np.ndarray]:
    """First half of :func:`synapse_layout`: the synapses in image order (``post`` int32, ``weight`` int16,
    ``delay`` uint8), each axon's first synapse (``syn_ptr``), core (``ax_core``) and key (``ax_key``).
    ``columns``: ``[post, akey, w, d]``, emptied as they are laid out: each input column is released right after
    its copy in image order (when the caller holds no other reference), so at most one column is held twice and
    the axons are allocated after every input column is gone."""
    post, akey = columns[0], columns[1]
    S = post.shape[0]
    perm = np.empty(S, index_dtype(max(S, 1)))
    core_start = _synapse_order(post, akey, np.asarray(neuron_core, np.int32), int(n_cores), perm)
    del post, akey
    laid = []
    for dt in (np.int32, None, np.int16, np.uint8):        # post, axon key, weight, delay
        x = columns.pop(0)
        y = np.empty(S, x.dtype if dt is None else dt)
        _take(x, perm, y)
        del x
        laid.append(y)
    del perm
    post_o, akey_o, w_o, d_o = laid
    del laid
    first, ax_core, ax_key = _axon_runs(core_start, akey_o)
    return {"post": post_o, "weight": w_o, "delay": d_o, "syn_ptr": first, "ax_core": ax_core, "ax_key": ax_key}


def layout_axons(lay: dict[str, np.ndarray], ak_src_base: np.ndarray, ak_size: np.ndarray, n_cores: int,
                 n_sources: int) -> dict[str, np.ndarray]:
    """Second half of :func:`synapse_layout`: from :func:`layout_synapses`'s dict (its ``ax_core`` and
    ``ax_key`` are taken out and released), the axons' ``axon_ptr`` and ``ax_proj`` and the routes."""
    ax_core, ax_key = lay.pop("ax_core"), lay.pop("ax_key")
    axon_ptr = np.zeros(n_cores + 1, np.int64)
    np.cumsum(np.bincount(ax_core, minlength=n_cores), out=axon_ptr[1:])
    src_ptr, r_core, r_axon = _routes(ax_core, ax_key, axon_ptr, np.asarray(ak_src_base, np.int64),
                                      np.asarray(ak_size, np.int64), int(n_sources))
    del ax_core
    ak_proj = np.repeat(np.arange(ak_size.shape[0], dtype=np.int32), ak_size)
    ax_proj = ak_proj[ax_key]
    del ak_proj, ax_key
    return {**lay, "axon_ptr": axon_ptr, "ax_proj": ax_proj, "src_ptr": src_ptr, "route_core": r_core,
            "route_axon": r_axon}
