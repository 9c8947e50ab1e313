"""An image flattened into the arrays the time loop reads (struct-of-arrays; int64 except per-synapse arrays).

:func:`prepare` turns a :class:`neuromap.image.Image` of ``loihi_lif`` cores into a
:class:`Program`: per neuron the constants of Lava's ``PyLifModelBitAcc``
(effective threshold ``vth << threshold_shift`` and bias ``bias_mant << bias_exp``, widths of
the image's ``arithmetic``), per source the route entries resolved to global axons, per synapse the
post neuron, total delay and the weight the accumulator adds.

Weight exponent (Lava ``PyDenseModelBitAcc.run_spk``): a projection's per-step
sum onto one (post, delay) is shifted ``<< weight_exp`` or, when negative,
``>> -weight_exp`` (arithmetic, floor). A left shift distributes over the sum
exactly in int64, so for ``weight_exp >= 0`` the synapse weight is pre-shifted
(``add = weight << weight_exp``) and added straight into the ring buffer. A right
shift does not distribute, so synapses of projections with ``weight_exp < 0``
add their raw weight into a *dendrite slot* (one per distinct
(projection, post, delay)); after all spikes of the step each touched slot is
shifted and added to the ring buffer (``slot_shift``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from neuromap.errors import ImageError
from neuromap.image import Image

from emulator.lif import arith_vector

#: the only core kind this emulator executes
KIND = "loihi_lif"


@dataclass
class Program:
    """Flattened image. Lengths: N neurons, I inputs, C cores, R route entries, A axons, S synapses, K slots."""

    n_neurons: int
    n_inputs: int
    n_cores: int
    ring_len: int             # D = max total delay + 1 ring-buffer rows
    # neurons (N): decay factors 2**D-(du+1) and 2**D-dv, effective threshold/bias, initial state
    # (D = decay_bits of the image's arithmetic, neuromap.image.LifArithmetic; Loihi: 4096 = 2**12)
    decay_u: np.ndarray
    decay_v: np.ndarray
    vth: np.ndarray           # vth << threshold_shift
    bias: np.ndarray          # bias_mant << bias_exp
    ref_period: np.ndarray    # refractory steps after a spike (0 = none; neuromap extension)
    u_init: np.ndarray
    v_init: np.ndarray
    neuron_core: np.ndarray
    # routing (sources = neurons then inputs)
    src_ptr: np.ndarray       # N+I+1
    route_axon: np.ndarray    # R, global axon id
    route_core: np.ndarray    # R, destination core
    src_core: np.ndarray      # N+I, core of the source (C = host for inputs); route delays are 0
    # axons / synapses (per-synapse arrays are narrow: 9 or 13 bytes per synapse)
    syn_ptr: np.ndarray       # A+1
    axon_delay: np.ndarray    # A: the delay shared by all synapses of the axon, or -1 if they differ
    axon_slotted: np.ndarray  # A bool: the axon's projection has weight_exp < 0 (its synapses use slots)
    syn_post: np.ndarray      # S int32
    syn_delay: np.ndarray     # S uint8
    syn_add: np.ndarray       # S int16: weight << weight_exp (direct, in [-2**15, 2**15)) or raw weight (slotted)
    syn_slot: np.ndarray      # S int32 dendrite slot (-1 on direct synapses); length 0 if no axon is slotted
    slot_post: np.ndarray     # K
    slot_delay: np.ndarray    # K
    slot_shift: np.ndarray    # K, right shift (= -weight_exp > 0)
    # inputs
    spike_step: np.ndarray
    spike_index: np.ndarray
    poisson_ids: np.ndarray   # input ids of Poisson inputs, in id order
    poisson_p: np.ndarray
    seed: int
    #: the LIF update's arithmetic (:func:`emulator.lif.arith_vector`: decay shift, activation shift, u wrap, v limit)
    arith: np.ndarray = None
    # packed synapses (static numba runs, :func:`pack`): syn_post/syn_add then have length 0
    syn_packed: np.ndarray = None      # S int32: add << 16 | (post - axon_post_base[axon]) (16 bit unsigned)
    axon_post_base: np.ndarray = None  # A int64: smallest post of each axon
    # threaded delivery (:func:`split_posts`): thread k owns neurons post_bounds[k] .. post_bounds[k+1]-1
    post_bounds: np.ndarray = None     # T+1 int64, ascending, 0 .. N
    syn_split: np.ndarray = None       # (A, T+1) int64: first synapse of each axon whose post >= post_bounds[k]


def _axon_post_base(p: Program) -> np.ndarray | None:
    """Smallest post of each axon (0 for empty axons), or None when some axon's posts span 2**16 or
    more neurons (then (add, post offset) cannot share one int32) or there are no synapses."""
    if p.syn_post.size == 0:
        return None
    n = np.diff(p.syn_ptr)
    has = np.flatnonzero(n > 0)
    lo = np.minimum.reduceat(p.syn_post, p.syn_ptr[has])
    hi = np.maximum.reduceat(p.syn_post, p.syn_ptr[has])
    if np.any(hi.astype(np.int64) - lo >= (1 << 16)):
        return None
    base = np.zeros(n.size, np.int64)
    base[has] = lo
    return base


def packable(p: Program) -> bool:
    """Every axon's posts span < 2**16 neurons, so (add, post offset) fit one int32 (add is 16 bit)."""
    return _axon_post_base(p) is not None


def order_by_source(p: Program) -> Program:
    """The same program with its axons (and their synapse runs) stored in routing-table order, so the
    axons one spike reaches are contiguous in memory (the image stores them core by core: a spike to
    k cores would jump k times across the synapse arrays, defeating the hardware prefetcher).
    Synaptic sums are integer and order-free, so results are unchanged (tested)."""
    A = p.syn_ptr.shape[0] - 1
    first = np.unique(p.route_axon, return_index=True)[1]
    reached = p.route_axon[np.sort(first)]
    order = np.concatenate([reached, np.setdiff1d(np.arange(A), reached)]).astype(np.int64)
    new_id = np.empty(A, np.int64)
    new_id[order] = np.arange(A)
    lens = np.diff(p.syn_ptr)[order]
    ptr = np.zeros(A + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    perm = np.repeat(p.syn_ptr[order] - ptr[:-1], lens) + np.arange(ptr[-1], dtype=np.int64)
    take = (lambda a: a[perm] if a is not None and a.size else a)  # noqa: E731
    return dataclasses.replace(
        p, syn_ptr=ptr, route_axon=new_id[p.route_axon], axon_delay=p.axon_delay[order],
        axon_slotted=p.axon_slotted[order], syn_post=take(p.syn_post), syn_delay=take(p.syn_delay),
        syn_add=take(p.syn_add), syn_slot=take(p.syn_slot), syn_packed=take(p.syn_packed),
        axon_post_base=None if p.axon_post_base is None else p.axon_post_base[order], post_bounds=None, syn_split=None)


def pack(p: Program) -> Program | None:
    """The same program, axons in routing order (:func:`order_by_source`), with each synapse's post
    offset and add packed into one int32 (4 bytes per synapse instead of 6 read per event;
    ``syn_post``/``syn_add`` are dropped); None when the program is not :func:`packable` (run it
    unpacked). The numba engine runs packed and unpacked programs identically."""
    base = _axon_post_base(p)
    if base is None:
        return None
    p = order_by_source(dataclasses.replace(p, axon_post_base=base))
    off = p.syn_post.astype(np.int64) - np.repeat(p.axon_post_base, np.diff(p.syn_ptr))
    # add is int16 and off < 2**16, so add << 16 | off lies in int32's range
    packed = ((p.syn_add.astype(np.int64) << 16) | off).astype(np.int32)
    return dataclasses.replace(p, syn_post=np.zeros(0, np.int32), syn_add=np.zeros(0, np.int16), syn_packed=packed)


def unpack(p: Program) -> Program:
    """Inverse of :func:`pack` (the numpy engine and the plastic loop read ``syn_post``/``syn_add``)."""
    if p.syn_packed is None:
        return p
    x = p.syn_packed.astype(np.int64)
    post = np.repeat(p.axon_post_base, np.diff(p.syn_ptr)) + (x & 0xFFFF)
    return dataclasses.replace(p, syn_post=post.astype(np.int32), syn_add=(x >> 16).astype(np.int16),
                               syn_packed=None, axon_post_base=None)


def _syn_posts(p: Program) -> np.ndarray:
    """The post neuron of every synapse (int64), packed or not."""
    if p.syn_packed is None:
        return p.syn_post.astype(np.int64)
    return np.repeat(p.axon_post_base, np.diff(p.syn_ptr)) + (p.syn_packed.astype(np.int64) & 0xFFFF)


def sort_by_post(p: Program) -> Program:
    """The same program with each axon's synapses ascending by post (stable; a no-op when they already
    are, as :mod:`neuromap.passes.lower` writes them). Sums are integer and order-free: results are unchanged."""
    post = _syn_posts(p)
    axon = np.repeat(np.arange(p.syn_ptr.shape[0] - 1), np.diff(p.syn_ptr))
    if post.size < 2 or not np.any((axon[1:] == axon[:-1]) & (post[1:] < post[:-1])):
        return p
    perm = np.lexsort((post, axon))
    take = (lambda a: a[perm] if a is not None and a.size else a)  # noqa: E731
    return dataclasses.replace(p, syn_post=take(p.syn_post), syn_delay=take(p.syn_delay), syn_add=take(p.syn_add),
                               syn_slot=take(p.syn_slot), syn_packed=take(p.syn_packed))


def split_posts(p: Program, threads: int) -> Program:
    """The same program prepared for ``threads`` delivery threads: the neurons cut into ``threads`` contiguous
    ranges of about equal weight (in-degree + 1 per neuron: synaptic events and the LIF update), each axon's
    synapses sorted by post (:func:`sort_by_post`) and ``syn_split[g, k]`` = the first synapse of axon g whose
    post lies in range k or above. Thread k then adds only into its own neurons' ring slots and slot
    accumulators (disjoint writes: the same integers whatever the scheduling). Ranges may be empty."""
    T = max(1, int(threads))
    p = sort_by_post(p)
    post = _syn_posts(p)
    w = np.bincount(post, minlength=p.n_neurons)[:p.n_neurons] + 1
    cum = np.cumsum(w)
    bounds = np.zeros(T + 1, np.int64)
    bounds[1:T] = np.searchsorted(cum, cum[-1] * np.arange(1, T) / T, side="left") + 1 if p.n_neurons else 0
    bounds[T] = p.n_neurons
    bounds = np.minimum(np.maximum.accumulate(bounds), p.n_neurons)
    split = np.empty((p.syn_ptr.shape[0] - 1, T + 1), np.int64)
    split[:, 0], split[:, T] = p.syn_ptr[:-1], p.syn_ptr[1:]
    for k in range(1, T):
        below = np.zeros(post.size + 1, np.int64)
        np.cumsum(post < bounds[k], out=below[1:])
        split[:, k] = p.syn_ptr[:-1] + below[p.syn_ptr[1:]] - below[p.syn_ptr[:-1]]
    return dataclasses.replace(p, post_bounds=bounds, syn_split=split)


def _i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def prepare(image: Image) -> Program:
    """Flatten ``image`` for execution; refuses core kinds other than ``loihi_lif``."""
    kinds = {image.core_kinds[k] for k in np.unique(image.cores["kind"])}
    if kinds - {KIND}:
        raise ImageError(f"the Loihi emulator cannot run core kind(s) {sorted(kinds - {KIND})} "
                         f"(only {KIND}; use a backend for that core kind)")
    nu, sy, ax, rt = image.neurons, image.synapses, image.axons, image.routes
    if np.any(rt["delay"] != 0):
        raise ImageError("routes.delay must be 0 on loihi_lif cores (their delays are synaptic; recompile)")
    N, I, C = image.n_neurons, image.n_inputs, image.n_cores
    # global axon of each route: core's first axon + core-local axon
    route_axon = image.cores["axon_ptr"][rt["core"]] + rt["axon"]
    src_core = np.concatenate([nu["core"].astype(np.int64), np.full(I, C, np.int64)])
    # per synapse: projection, exponent
    syn_proj = image.synapse_projections()
    exps = np.array([p.weight_exp for p in image.projections] or [0], dtype=np.int64)
    syn_exp = exps[syn_proj] if syn_proj.size else np.zeros(0, np.int64)
    w = sy["weight"].astype(np.int64)
    direct = syn_exp >= 0
    syn_add = np.where(direct, w << np.maximum(syn_exp, 0), w)
    # dendrite slots for negative exponents: one per distinct (projection, post, delay)
    if np.all(direct):
        syn_slot = np.zeros(0, np.int64)
        uniq = np.zeros((0, 3), np.int64)
    else:
        syn_slot = np.full(w.shape[0], -1, np.int64)
        key = np.stack([syn_proj[~direct], sy["post"][~direct].astype(np.int64),
                        sy["delay"][~direct].astype(np.int64)], axis=1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        syn_slot[~direct] = inv.reshape(-1)
    p = image.inputs["poisson_p"]
    ar = image.arithmetic
    poisson_ids = np.flatnonzero(~np.isnan(p))
    return Program(
        n_neurons=N, n_inputs=I, n_cores=C, ring_len=image.max_delay() + 1,
        decay_u=ar.decay_unity - (_i64(nu["du"]) + 1), decay_v=ar.decay_unity - _i64(nu["dv"]),
        vth=_i64(nu["vth"]) << ar.threshold_shift, arith=arith_vector(ar), bias=_i64(nu["bias_mant"]) << _i64(nu["bias_exp"]),
        ref_period=_i64(nu["refractory"]) if "refractory" in nu else np.zeros(N, np.int64),
        u_init=_i64(nu["u_init"]), v_init=_i64(nu["v_init"]), neuron_core=_i64(nu["core"]),
        src_ptr=_i64(rt["src_ptr"]), route_axon=_i64(route_axon), route_core=_i64(rt["core"]),
        src_core=src_core,
        syn_ptr=_i64(ax["syn_ptr"]), axon_delay=_axon_delay(ax["syn_ptr"], sy["delay"]),
        axon_slotted=np.ascontiguousarray(exps[ax["proj"]] < 0) if ax["proj"].size else np.zeros(0, bool),
        syn_post=np.ascontiguousarray(sy["post"], np.int32),
        syn_delay=np.ascontiguousarray(sy["delay"], np.uint8),
        syn_add=syn_add.astype(np.int16), syn_slot=syn_slot.astype(np.int32),
        slot_post=_i64(uniq[:, 1]), slot_delay=_i64(uniq[:, 2]), slot_shift=-exps[uniq[:, 0]],
        spike_step=_i64(image.inputs["spike_step"]), spike_index=_i64(image.inputs["spike_index"]),
        poisson_ids=_i64(poisson_ids), poisson_p=np.ascontiguousarray(p[poisson_ids], dtype=np.float64),
        seed=int(image.seed))


def _axon_delay(syn_ptr: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """Per axon: the delay all its synapses share, or -1 when they differ (or the axon has none)."""
    A = syn_ptr.shape[0] - 1
    out = np.full(A, -1, np.int64)
    n = np.diff(syn_ptr)
    has = np.flatnonzero(n > 0)
    if has.size:
        d = delay.astype(np.int64)
        lo = np.minimum.reduceat(d, syn_ptr[has])
        hi = np.maximum.reduceat(d, syn_ptr[has])
        out[has] = np.where(lo == hi, lo, -1)
    return out
