"""An image flattened into the arrays the time loop reads (struct-of-arrays; int64 except per-synapse arrays).

:func:`prepare` turns a :class:`neuromap.image.Image` of ``loihi_lif`` cores into a
:class:`Program`: per neuron the constants of Lava's ``PyLifModelBitAcc``
(effective threshold ``vth << threshold_shift`` and bias ``bias_mant << bias_exp``, widths of
the image's ``arithmetic``), per source the route entries resolved to global axons, per synapse the
post neuron, total delay and the weight the accumulator adds. :func:`flatten` adds the
*delivery runs* the static numba loops read: per source its synapses over all its route
entries, by delay and post, packed (the per-spike cost no longer grows with the route count;
the per-core and per-link counters are then per-source spike counts times the route table,
:func:`emulator.engine_numba.add_link_spikes`).

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

import numba
import numpy as np

from emulator.lif import arith_vector
from neuromap.conv_geometry import expand as expand_convs
from neuromap.core_kinds import loihi_lif
from neuromap.errors import ImageError
from neuromap.image import Image
from neuromap.poisson_stream import SEQUENTIAL

#: the only core kind this emulator executes
KIND = loihi_lif.NAME


@dataclass
class Program:
    """Flattened image. Lengths: N neurons, I inputs, C cores, R route entries, A axons, S synapses, K slots."""

    n_neurons: int
    n_inputs: int
    n_cores: int
    ring_len: int             # D = max total delay + 1 ring-buffer rows
    # neurons (N): decay factors f = 2**D-(du+1) and 2**D-dv, effective threshold/bias, initial state
    # (D = decay_bits of the image's arithmetic, neuromap.image.LifArithmetic; Loihi: 4096 = 2**12). The
    # factors as the LIF kernel reads them (:func:`decay_factors`): float32 f / 2**D when every factor of the
    # program lies in [0, 2**D] (exact, and vectorizable without a 64-bit multiply), else int64 f. vth, bias and
    # neuron_core are int32 when their values fit (:func:`_narrow`: the LIF update streams every neuron's
    # constants once a step, so their width is its memory traffic), else int64
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
    #: the Poisson inputs' stream kind (the image's ``poisson_stream``, :mod:`neuromap.poisson_stream`)
    poisson_stream: str = SEQUENTIAL
    #: the LIF update's arithmetic (:func:`emulator.lif.arith_vector`: decay shift, activation shift, u wrap, v limit)
    arith: np.ndarray = None
    # delivery runs (:func:`flatten`; the static numba loops): every source's synapses, over all its route
    # entries, as runs of one delay sorted by post, packed; the image-order synapse arrays above stay for
    # the numpy engine and the plastic loops. Lengths: G runs, S' run synapses (S' = S unless axons are shared)
    run_ptr: np.ndarray = None         # N+I+1 int64: source s's runs run_ptr[s] .. run_ptr[s+1]-1
    run_syn: np.ndarray = None         # G+1 int64: run j's synapses run_syn[j] .. run_syn[j+1]-1
    run_delay: np.ndarray = None       # G int64: delay of run j's synapses
    run_shift: np.ndarray = None       # G int64: 0 (direct synapses) or the right shift s of a slotted run's weights
    run_post_base: np.ndarray = None   # G int64: smallest post of run j (its posts span < 2**16 neurons)
    run_packed: np.ndarray = None      # S' int32: add << 16 | (post - run_post_base[run]) (16 bit unsigned)
    run_slot: np.ndarray = None        # S' int32: dendrite slot (-1 on direct synapses; length 0 if none slotted)
    src_notes: np.ndarray = None       # N+I int64: slotted run synapses per source (most notes one spike makes)
    # threaded delivery (:func:`split_runs`): thread k owns neurons post_bounds[k] .. post_bounds[k+1]-1
    post_bounds: np.ndarray = None     # T+1 int64, ascending, 0 .. N
    run_split: np.ndarray = None       # (G, T+1) int64: first synapse of run j whose post >= post_bounds[k]
    #: N int64 ``neurons.join_parent`` (dendrite compartments, :mod:`emulator.compartments`); None: no joins
    join_parent: np.ndarray = None
    #: False when no neuron has a refractory period (``ref_period`` all 0, :func:`prepare`): the numba engine's
    #: LIF update then skips the refractory bookkeeping (:func:`emulator.engine_numba.lif_update`); True is
    #: always correct
    refractory: bool = True


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(starts[i], ends[i])`` and, for each element, its range index ``i``."""
    lens = ends - starts
    owner = np.repeat(np.arange(starts.shape[0]), lens)
    if owner.size == 0:
        return owner, owner
    first = np.cumsum(lens) - lens
    return np.arange(owner.size) - first[owner] + starts[owner], owner


def flatten(p: Program, block_synapses: int = 1 << 22) -> Program:
    """``p`` with its delivery runs (``run_*``): for every source, the synapses of all the axons its route
    entries reach (an axon reached twice counts twice, as the route walk delivers it twice), grouped by
    (delay, shift), sorted by post, and cut into runs whose posts span < 2**16 neurons, so (weight, post offset)
    pack into one int32. A spike then costs one loop over its runs (about one per delay and 65 536 posts) however
    many cores and route entries the placement produced. Direct synapses (``weight_exp >= 0``) have shift 0 and
    their pre-shifted weight; a slotted synapse (``weight_exp < 0``) keeps its raw weight w and its projection's
    shift s: it adds ``w >> s`` straight into the ring and, when ``w mod 2**s`` is not 0, notes the remainder for
    its dendrite slot (``run_slot``), whose step sum then adds only the carry ``floor(sum of remainders / 2**s)``
    (exact: ``floor(sum w / 2**s) = sum (w >> s) + floor(sum (w mod 2**s) / 2**s)``; the carry is 0 unless two
    remainders meet in one slot in one step). Sums are integer and order-free (int32 ring adds wrap), so every
    run gives the route walk's integers (tested). Built in blocks of sources of about ``block_synapses``
    delivered synapses (the sort's temporaries are per block: ~100 bytes per block synapse; the result, 8 bytes
    per synapse with slots, 4 without, is written in place), so the image's size bounds only the result.
    :func:`prepare_runs` builds the same runs straight from an image."""
    cols = _ProgramColumns(p)
    return dataclasses.replace(p, **_runs(p.n_neurons, p.n_inputs, p.ring_len, p.src_ptr, cols, block_synapses),
                               post_bounds=None, run_split=None)


class _ProgramColumns:
    """The synapse columns :func:`_flatten_block` reads, from the image-order arrays of :func:`prepare`."""

    def __init__(self, p: Program):
        self.p = p
        self.syn_ptr = p.syn_ptr
        self.slotted = p.syn_slot.size > 0
        self.axon_base = np.zeros(p.n_cores + 1, np.int64)    # route_axon is global already
        self.route_core, self.route_axon = p.route_core, p.route_axon

    def axons(self, r0: int, r1: int) -> np.ndarray:
        return self.p.route_axon[r0:r1]

    def columns(self, syn: np.ndarray, g_of: np.ndarray):
        """post, delay (int64), add (int64: pre-shifted or raw weight), slot (int32; empty when none is slotted),
        shift (int64) of the image synapses ``syn``."""
        p = self.p
        post = p.syn_post[syn].astype(np.int64)
        delay = p.syn_delay[syn].astype(np.int64)
        add = p.syn_add[syn].astype(np.int64)
        if not self.slotted:
            return post, delay, add, np.zeros(0, np.int32), np.zeros(syn.size, np.int64)
        slot = p.syn_slot[syn]
        shift = np.where(slot >= 0, p.slot_shift[np.maximum(slot, 0)], 0).astype(np.int64)
        return post, delay, add, slot, shift


class _ImageColumns:
    """The synapse columns :func:`_flatten_block` reads, straight from an image's arrays (no image-order copies:
    a block's synapses are gathered from ``synapses.post/delay/weight`` as they are) and its dendrite slots
    (:func:`_dendrite_slots`)."""

    def __init__(self, image: Image, exps: np.ndarray, syn_slot: np.ndarray):
        ax, rt = image.axons, image.routes
        self.syn_ptr = np.asarray(ax["syn_ptr"])
        self.ax_proj, self.exps, self.syn_slot = ax["proj"], exps, syn_slot
        self.sy = image.synapses
        self.slotted = syn_slot.size > 0
        self.axon_base = np.asarray(image.cores["axon_ptr"])
        self.route_core, self.route_axon = rt["core"], rt["axon"]

    def axons(self, r0: int, r1: int) -> np.ndarray:
        return self.axon_base[self.route_core[r0:r1]].astype(np.int64) + self.route_axon[r0:r1]

    def columns(self, syn: np.ndarray, g_of: np.ndarray):
        sy = self.sy
        exp = self.exps[self.ax_proj[g_of]]
        post = sy["post"][syn].astype(np.int64)
        delay = sy["delay"][syn].astype(np.int64)
        add = sy["weight"][syn].astype(np.int64)
        add <<= np.maximum(exp, 0)
        if not self.slotted:
            return post, delay, add, np.zeros(0, np.int32), np.zeros(syn.size, np.int64)
        return post, delay, add, self.syn_slot[syn], np.maximum(-exp, 0)


def _runs(n_neurons: int, n_inputs: int, ring_len: int, src_ptr: np.ndarray, cols, block_synapses: int) -> dict:
    """The ``run_*`` fields and ``src_notes`` of :func:`flatten` from the synapse columns ``cols``."""
    n_src = n_neurons + n_inputs
    end = _source_ends(np.asarray(src_ptr, np.int64), cols.route_core, cols.route_axon, cols.axon_base,
                       np.asarray(cols.syn_ptr))                   # delivered synapses of sources 0 .. s-1
    S = int(end[-1])
    packed = np.empty(S, np.int32)
    slot_out = np.empty(S if cols.slotted else 0, np.int32)
    parts, notes = [], np.zeros(n_src, np.int64)
    s0 = 0
    while s0 < n_src:                   # blocks of sources of about block_synapses delivered synapses
        s1 = int(np.searchsorted(end, end[s0] + block_synapses, side="right")) - 1
        s1 = min(n_src, max(s1, s0 + 1))
        parts.append(_flatten_block(src_ptr, cols, n_neurons, ring_len, s0, s1, int(end[s0]), packed, slot_out,
                                    notes))
        s0 = s1
    cat = (lambda k: np.concatenate([x[k] for x in parts])) if parts else (lambda k: np.zeros(0, np.int64))
    run_src = cat(0)
    run_ptr = np.zeros(n_src + 1, np.int64)
    np.cumsum(np.bincount(run_src, minlength=n_src), out=run_ptr[1:])
    return dict(run_ptr=run_ptr, run_syn=np.append(cat(1), S).astype(np.int64), run_delay=cat(2), run_shift=cat(3),
                run_post_base=cat(4), run_packed=packed, run_slot=slot_out, src_notes=notes)


@numba.njit(cache=True, nogil=True)
def _source_ends(src_ptr, route_core, route_axon, axon_base, syn_ptr):
    """``end[s]``: the synapses delivered by the route entries of sources ``0 .. s-1`` (int64, one pass over
    the route entries, no per-entry temporaries); route entry r reaches global axon
    ``axon_base[route_core[r]] + route_axon[r]``."""
    n = src_ptr.shape[0] - 1
    end = np.zeros(n + 1, np.int64)
    acc = 0
    for s in range(n):
        for r in range(src_ptr[s], src_ptr[s + 1]):
            g = axon_base[route_core[r]] + route_axon[r]
            acc += syn_ptr[g + 1] - syn_ptr[g]
        end[s + 1] = acc
    return end


def _flatten_block(src_ptr: np.ndarray, cols, n_neurons: int, ring_len: int, s0: int, s1: int, first_syn: int,
                   packed: np.ndarray, slot_out: np.ndarray, notes: np.ndarray) -> tuple:
    """:func:`flatten` for the sources ``s0 .. s1-1``, whose delivered synapses are run synapses
    ``first_syn ..`` (written into ``packed``, ``slot_out``; ``notes`` counted); returns the block's runs as
    (source, first synapse, delay, shift, post base) int64 arrays. Working memory ~100 bytes per synapse of the
    block, not of the image."""
    r0, r1 = int(src_ptr[s0]), int(src_ptr[s1])
    route_src = np.repeat(np.arange(s0, s1, dtype=np.int64), np.diff(src_ptr[s0:s1 + 1]))
    g = cols.axons(r0, r1)
    syn, owner = concat_ranges(cols.syn_ptr[g], cols.syn_ptr[g + 1])        # the block's delivered synapses
    src = route_src[owner]
    post, delay, add, slot, shift = cols.columns(syn, g[owner])
    del owner, syn
    # order: source, delay, shift, post; one int64 key while it fits (delays <= 255, shifts <= 15)
    nd, ns, npost = max(ring_len, 1), 16, max(n_neurons, 1)
    if (s1 - s0) * nd * ns * npost < (1 << 62):
        order = np.argsort((((src - s0) * nd + delay) * ns + shift) * npost + post)
    else:
        order = np.lexsort((post, shift, delay, src))
    add, src, post, delay, shift = add[order], src[order], post[order], delay[order], shift[order]
    if slot.size:
        slot = slot[order]
    del order
    S = src.size
    group = np.ones(S, bool)                               # first synapse of each (source, delay, shift) group
    if S:
        group[1:] = (src[1:] != src[:-1]) | (delay[1:] != delay[:-1]) | (shift[1:] != shift[:-1])
    gid = np.cumsum(group) - 1
    win = (post - post[np.flatnonzero(group)][gid]) >> 16   # 2**16-wide post windows of the group
    start = group
    if S:
        start[1:] |= win[1:] != win[:-1]
    first = np.flatnonzero(start)
    base = post[first]
    off = post - np.repeat(base, np.diff(np.append(first, S)))
    packed[first_syn:first_syn + S] = ((add << 16) | off).astype(np.int32)
    if slot.size:
        slot_out[first_syn:first_syn + S] = slot
    notes[s0:s1] = np.bincount(src[shift > 0] - s0, minlength=s1 - s0)
    return src[first], first + first_syn, delay[first], shift[first], base


def run_posts(p: Program) -> np.ndarray:
    """The post neuron of every run synapse (int64, :func:`flatten` order)."""
    return np.repeat(p.run_post_base, np.diff(p.run_syn)) + (p.run_packed.astype(np.int64) & 0xFFFF)


def split_runs(p: Program, threads: int) -> Program:
    """The flattened program (:func:`flatten`) prepared for ``threads`` delivery threads: the neurons cut into
    ``threads`` contiguous ranges of about equal weight (in-degree + 1 per neuron: synaptic events and the LIF
    update) and ``run_split[j, k]`` = the first synapse of run j whose post lies in range k or above (runs
    are sorted by post). Thread k then adds only into its own neurons' ring slots and slot accumulators
    (disjoint writes: the same integers whatever the scheduling). Ranges may be empty.

    Cost: one pass over the packed synapses (in-degrees) and a binary search per run and range boundary,
    no per-synapse temporary (about 10 ms per 10 M synapses; a default-threads run pays it only when it
    tries more than one thread, :mod:`emulator.threads`)."""
    T = max(1, int(threads))
    w = _in_degree(p.run_syn, p.run_post_base, p.run_packed, p.n_neurons) + 1
    cum = np.cumsum(w)
    bounds = np.zeros(T + 1, np.int64)
    bounds[1:T] = np.searchsorted(cum, cum[-1] * np.arange(1, T) / T, side="left") + 1 if p.n_neurons else 0
    bounds[T] = p.n_neurons
    bounds = np.minimum(np.maximum.accumulate(bounds), p.n_neurons)
    split = _run_split(p.run_syn, p.run_post_base, p.run_packed, bounds)
    return dataclasses.replace(p, post_bounds=bounds, run_split=split)


@numba.njit(cache=True, nogil=True)
def _in_degree(run_syn, run_post_base, run_packed, n_neurons):
    """Synapses per post neuron (int64, ``n_neurons`` entries) of the delivery runs."""
    deg = np.zeros(n_neurons, np.int64)
    for j in range(run_syn.shape[0] - 1):
        base = run_post_base[j]
        for s in range(run_syn[j], run_syn[j + 1]):
            post = base + (np.int64(run_packed[s]) & 0xFFFF)
            if post < n_neurons:
                deg[post] += 1
    return deg


@numba.njit(cache=True, nogil=True)
def _run_split(run_syn, run_post_base, run_packed, bounds):
    """``split[j, k]``: the first synapse of run j whose post is >= ``bounds[k]`` (binary search: a run's
    posts ascend); column 0 and T are the run's ends."""
    R, T = run_syn.shape[0] - 1, bounds.shape[0] - 1
    split = np.empty((R, T + 1), np.int64)
    for j in range(R):
        lo0, hi0, base = run_syn[j], run_syn[j + 1], run_post_base[j]
        split[j, 0], split[j, T] = lo0, hi0
        for k in range(1, T):
            lo, hi = lo0, hi0
            while lo < hi:
                mid = (lo + hi) // 2
                if base + (np.int64(run_packed[mid]) & 0xFFFF) < bounds[k]:
                    lo = mid + 1
                else:
                    hi = mid
            split[j, k] = lo
    return split


def _i64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def _narrow(a: np.ndarray) -> np.ndarray:
    """``a`` (integers) as int32 when every value fits, else as int64."""
    a = np.asarray(a)
    if a.size == 0 or (a.min() >= np.iinfo(np.int32).min and a.max() <= np.iinfo(np.int32).max):
        return np.ascontiguousarray(a, dtype=np.int32)
    return _i64(a)


def _loihi_image(image: Image) -> Image:
    """``image`` with explicit synapses (:func:`neuromap.conv_geometry.expand`), refused unless every core is
    ``loihi_lif`` and every route delay 0."""
    image = expand_convs(image)
    kinds = {image.core_kinds[k] for k in np.unique(image.cores["kind"])}
    if kinds - {KIND}:
        raise ImageError(f"the Loihi emulator cannot run core kind(s) {sorted(kinds - {KIND})} "
                         f"(only {KIND}; use a backend for that core kind)")
    if np.any(image.routes["delay"] != 0):
        raise ImageError("routes.delay must be 0 on loihi_lif cores (their delays are synaptic; recompile)")
    return image


def _weight_exps(image: Image) -> np.ndarray:
    return np.array([p.weight_exp for p in image.projections] or [0], dtype=np.int64)


def _neuron_fields(image: Image) -> dict:
    """The :class:`Program` fields of ``image`` that are not per route entry, axon or synapse: neuron constants
    and initial state, source cores, inputs (O(neurons + inputs))."""
    nu, rt = image.neurons, image.routes
    N, I, C = image.n_neurons, image.n_inputs, image.n_cores
    p = image.inputs["poisson_p"]
    ar = image.arithmetic
    poisson_ids = np.flatnonzero(~np.isnan(p))
    join_parent = loihi_lif.join_parents(image)
    vth = _i64(nu["vth"]) << ar.threshold_shift
    if join_parent is not None:           # a dendrite never spikes: threshold at the v limit (v > L never holds)
        vth[join_parent >= 0] = ar.v_limit
    ref_period = _i64(nu["refractory"]) if "refractory" in nu else np.zeros(N, np.int64)
    return dict(
        n_neurons=N, n_inputs=I, n_cores=C, ring_len=image.max_delay() + 1,
        **decay_factors(ar.decay_unity - (_i64(nu["du"]) + 1), ar.decay_unity - _i64(nu["dv"]), ar.decay_bits),
        vth=_narrow(vth), arith=arith_vector(ar),
        bias=_narrow(_i64(nu["bias_mant"]) << _i64(nu["bias_exp"])),
        ref_period=ref_period, refractory=bool(ref_period.any()),
        u_init=_i64(nu["u_init"]), v_init=_i64(nu["v_init"]), neuron_core=_narrow(nu["core"]),
        src_ptr=_i64(rt["src_ptr"]), src_core=np.concatenate([nu["core"].astype(np.int64), np.full(I, C, np.int64)]),
        spike_step=_i64(image.inputs["spike_step"]), spike_index=_i64(image.inputs["spike_index"]),
        poisson_ids=_i64(poisson_ids), poisson_p=np.ascontiguousarray(p[poisson_ids], dtype=np.float64),
        seed=int(image.seed), poisson_stream=image.poisson_stream, join_parent=join_parent)


def prepare(image: Image) -> Program:
    """Flatten ``image`` for execution; refuses core kinds other than ``loihi_lif``. Convolutions stored as kernel +
    geometry get their explicit synapses here (:func:`neuromap.conv_geometry.expand`). The program holds the
    image-order synapse arrays the numpy engine and the plastic loops read; the numba engine's static runs need
    only the delivery runs (:func:`prepare_runs`, without those arrays)."""
    image = _loihi_image(image)
    sy, ax, rt = image.synapses, image.axons, image.routes
    # global axon of each route: core's first axon + core-local axon
    route_axon = image.cores["axon_ptr"][rt["core"]] + rt["axon"]
    # per synapse: projection (int32), exponent (int8); narrow temporaries: a few bytes per synapse
    exps = _weight_exps(image)
    syn_proj = np.repeat(ax["proj"].astype(np.int32), np.diff(ax["syn_ptr"].astype(np.int64)))
    syn_exp = exps.astype(np.int8)[syn_proj]
    del syn_proj
    syn_add = sy["weight"].astype(np.int32)
    syn_add <<= np.maximum(syn_exp, 0)                     # weight << weight_exp, or the raw weight (slotted)
    syn_add = syn_add.astype(np.int16)                     # in [-2**15, 2**15) (image.verify)
    del syn_exp
    syn_slot, slot_post, slot_delay, slot_shift = _dendrite_slots(image, exps)
    return Program(
        **_neuron_fields(image),
        route_axon=_i64(route_axon), route_core=_i64(rt["core"]),
        syn_ptr=_i64(ax["syn_ptr"]), axon_delay=_axon_delay(ax["syn_ptr"], sy["delay"]),
        axon_slotted=np.ascontiguousarray(exps[ax["proj"]] < 0) if ax["proj"].size else np.zeros(0, bool),
        syn_post=np.ascontiguousarray(sy["post"], np.int32),
        syn_delay=np.ascontiguousarray(sy["delay"], np.uint8),
        syn_add=syn_add, syn_slot=syn_slot, slot_post=slot_post, slot_delay=slot_delay, slot_shift=slot_shift)


def prepare_runs(image: Image, block_synapses: int = 1 << 22) -> Program:
    """``flatten(prepare(image))`` for the numba engine's static runs, built straight from the image's arrays
    without the image-order copies :func:`prepare` makes (route axons, per-axon delays, per-synapse posts,
    weights and slots): the program holds the neuron constants, the delivery runs (4 bytes a synapse, 8 with
    dendrite slots), ``src_ptr`` and the image's own ``routes.core`` (the link counters,
    :func:`emulator.engine_numba.add_link_spikes`) and the slot table. The same arrays as
    ``flatten(prepare(image))`` (tested); its route-walk fields (``route_axon``, ``syn_*``, ``axon_*``)
    are empty, so only the numba engine runs it.
    Peak memory above the image: the result, a 4-byte-a-synapse slot table while it is built
    (:func:`_dendrite_slots`) and one block's sort (~100 bytes a block synapse, ``block_synapses``)."""
    image = _loihi_image(image)
    exps = _weight_exps(image)
    syn_slot, slot_post, slot_delay, slot_shift = _dendrite_slots(image, exps)
    fields = _neuron_fields(image)
    runs = _runs(fields["n_neurons"], fields["n_inputs"], fields["ring_len"], fields["src_ptr"],
                 _ImageColumns(image, exps, syn_slot), block_synapses)
    del syn_slot
    z64, z32 = np.zeros(0, np.int64), np.zeros(0, np.int32)
    return Program(
        **fields, **runs, route_axon=z64, route_core=np.ascontiguousarray(image.routes["core"]),
        syn_ptr=z64, axon_delay=z64, axon_slotted=np.zeros(0, bool), syn_post=z32, syn_delay=np.zeros(0, np.uint8),
        syn_add=np.zeros(0, np.int16), syn_slot=z32, slot_post=slot_post, slot_delay=slot_delay,
        slot_shift=slot_shift)


def _dendrite_slots(image: Image, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The dendrite slots of the synapses of projections with ``weight_exp < 0`` (one per distinct
    (projection, post, delay)): per image synapse its slot (int32, -1 on direct synapses; empty when no
    projection is slotted) and per slot its post, delay and right shift (int64). Slots are numbered by post,
    then by first appearance in image order (sums per slot are order-free, so any numbering gives the same
    integers). Two compiled passes over the synapses grouped by post; working memory 8 bytes a slotted synapse
    plus O(neurons + projections x delays), no sort."""
    ax, sy = image.axons, image.synapses
    syn_ptr = np.ascontiguousarray(ax["syn_ptr"], np.int64)
    proj = np.ascontiguousarray(ax["proj"])
    z = np.zeros(0, np.int64)
    slotted_axon = exps[proj] < 0
    if not slotted_axon.any():
        return np.zeros(0, np.int32), z, z, z
    post, delay = np.ascontiguousarray(sy["post"]), np.ascontiguousarray(sy["delay"])
    n_post = max(int(image.n_neurons), int(post.max()) + 1 if post.size else 0)
    n_delay = int(delay.max()) + 1 if delay.size else 1
    ptr = _slot_ptr(syn_ptr, slotted_axon, post, n_post)
    n = int(ptr[-1])
    ids = np.empty(n, np.int32 if post.shape[0] < 2 ** 31 else np.int64)
    keys = np.empty(n, np.int32 if exps.shape[0] * n_delay < 2 ** 31 else np.int64)
    syn_slot = np.full(post.shape[0], -1, np.int32)
    out = _slot_numbers(syn_ptr, proj, slotted_axon, exps, post, delay, n_delay, ptr, ids, keys, syn_slot)
    return (syn_slot,) + out


@numba.njit(cache=True, nogil=True)
def _slot_ptr(syn_ptr, slotted_axon, post, n_post):
    """Slotted synapses per post neuron as offsets (int64, ``n_post + 1``)."""
    ptr = np.zeros(n_post + 1, np.int64)
    for a in range(syn_ptr.shape[0] - 1):
        if slotted_axon[a]:
            for q in range(syn_ptr[a], syn_ptr[a + 1]):
                ptr[post[q] + 1] += 1
    for i in range(n_post):
        ptr[i + 1] += ptr[i]
    return ptr


@numba.njit(cache=True, nogil=True)
def _slot_numbers(syn_ptr, proj, slotted_axon, exps, post, delay, n_delay, ptr, ids, keys, syn_slot):
    """:func:`_dendrite_slots` after :func:`_slot_ptr`: the slotted synapses grouped by post (``ids``, their
    (projection, delay) ``keys``: a counting sort), then per post a table over (projection, delay) gives each
    distinct key its slot (counted in a first pass, numbered in a second); writes ``syn_slot`` and returns
    (slot_post, slot_delay, slot_shift)."""
    n_post = ptr.shape[0] - 1
    fill = ptr[:-1].copy()
    for a in range(syn_ptr.shape[0] - 1):
        if slotted_axon[a]:
            for q in range(syn_ptr[a], syn_ptr[a + 1]):
                i = fill[post[q]]
                ids[i] = q
                keys[i] = proj[a] * n_delay + delay[q]
                fill[post[q]] = i + 1
    table = np.full(exps.shape[0] * n_delay, -1, np.int64)
    K = 0
    for i in range(n_post):                       # first pass: how many slots
        for e in range(ptr[i], ptr[i + 1]):
            if table[keys[e]] < 0:
                table[keys[e]] = 0
                K += 1
        for e in range(ptr[i], ptr[i + 1]):
            table[keys[e]] = -1
    slot_post = np.empty(K, np.int64)
    slot_delay = np.empty(K, np.int64)
    slot_shift = np.empty(K, np.int64)
    k = 0
    for i in range(n_post):                       # second pass: number them, post by post
        for e in range(ptr[i], ptr[i + 1]):
            key = keys[e]
            if table[key] < 0:
                table[key] = k
                slot_post[k] = i
                slot_delay[k] = key % n_delay
                slot_shift[k] = -exps[key // n_delay]
                k += 1
            syn_slot[ids[e]] = table[key]
        for e in range(ptr[i], ptr[i + 1]):
            table[keys[e]] = -1
    return slot_post, slot_delay, slot_shift


def decay_factors(fu: np.ndarray, fv: np.ndarray, decay_bits: int) -> dict[str, np.ndarray]:
    """``decay_u``, ``decay_v`` of a :class:`Program` from the int64 decay factors ``fu``, ``fv``: float32
    ``f / 2**decay_bits`` when every factor lies in [0, 2**decay_bits] (and decay_bits <= 24: exact in float32's
    24-bit significand; the kernel widens it to float64 for the product), else the int64 factors.

    Why that is exact (:func:`emulator.engine_numba._decay_any`): u and v are int32 values (image fields and
    every update), so ``|x f| < 2**31 * 2**16 < 2**53`` is exact in float64, scaling by ``2**-D`` is exact, and
    truncation toward zero is ``sign(x f) (|x f| >> D)``; with ``0 <= f <= 2**D`` the result lies in
    [-|x|, |x|] (an int32). A factor outside (``du`` or ``dv`` above ``2**D``, which only a hand-made image
    holds) keeps the int64 multiply."""
    unity = 1 << int(decay_bits)
    if int(decay_bits) <= 24 and all(f.size == 0 or (f.min() >= 0 and f.max() <= unity) for f in (fu, fv)):
        scale = 2.0 ** -int(decay_bits)
        return {"decay_u": (fu.astype(np.float64) * scale).astype(np.float32),
                "decay_v": (fv.astype(np.float64) * scale).astype(np.float32)}
    return {"decay_u": _i64(fu), "decay_v": _i64(fv)}


def _slots(proj: np.ndarray, post: np.ndarray, delay: np.ndarray, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (projection, post, delay) triples in lexicographic order ((K, 3) int64) and the index of
    each synapse's triple: ``np.unique(axis=0)``'s result, from one int64 key (a sort of integers instead of
    rows: ~40x faster on the 3 M-synapse microcircuit)."""
    nd = int(delay.max()) + 1 if delay.size else 1
    npost = max(int(n_neurons), int(post.max()) + 1 if post.size else 1)
    nproj = int(proj.max()) + 1 if proj.size else 1
    if nproj * npost * nd >= 1 << 62:                   # no int64 key: rows (never for a real image)
        uniq, inv = np.unique(np.stack([proj, post, delay], axis=1).astype(np.int64), axis=0, return_inverse=True)
        return uniq, inv.reshape(-1)
    key = proj.astype(np.int64) * npost                 # built in place: one int64 array at a time
    key += post
    key *= nd
    key += delay
    keys, inv = np.unique(key, return_inverse=True)    # key order = row order
    return np.stack([keys // (npost * nd), keys // nd % npost, keys % nd], axis=1), inv.reshape(-1)


def _axon_delay(syn_ptr: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """Per axon: the delay all its synapses share, or -1 when they differ (or the axon has none)."""
    return _axon_delay_kernel(np.ascontiguousarray(syn_ptr, np.int64), np.ascontiguousarray(delay))


@numba.njit(cache=True, nogil=True)
def _axon_delay_kernel(syn_ptr, delay):
    """:func:`_axon_delay` in one pass (``np.minimum.reduceat`` per axon cost seconds on images of about one
    synapse per axon)."""
    A = syn_ptr.shape[0] - 1
    out = np.full(A, -1, np.int64)
    for a in range(A):
        lo = syn_ptr[a]
        hi = syn_ptr[a + 1]
        if hi > lo:
            d = delay[lo]
            same = True
            for q in range(lo + 1, hi):
                if delay[q] != d:
                    same = False
                    break
            if same:
                out[a] = d
    return out
