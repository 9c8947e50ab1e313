"""Per-core resource accounting: the ONE place that counts what a core uses (docs/targets.md).

Everything that asks "does this fit a core?" counts here: the packer's result check
(:mod:`neuromap.placement.packing`), the partition/placement usage (:mod:`neuromap.placement.usage`),
the placement checker (:func:`neuromap.placement.verify.verify_assignment`), the image verifier
(:meth:`neuromap.image.Image.verify`, which refuses to save an image over capacity) and
``neuromap inspect``. Callers differ only in how they list the *input axons* (from a synapse graph
and an assignment, or read back from an image); the counting is this module's.

Capacity model (the image's structure, docs/image-format.md):

* An **input axon** is one (core, projection, source) triple with at least one synapse from that
  source, through that projection, onto a neuron of the core (the image stores exactly one axon per
  triple). It takes ``plastic_axon_slots`` input-axon slots if the projection is plastic, else 1.
* An **output axon** of core c is one route entry of a source on c: one per input axon it feeds,
  i.e. per (projection, target core) of each of its sources.
* **Fan-out cores** of a source: the distinct cores its input axons enter.
* **Synapse memory** (``memory_model = "nengo_loihi"``): per input axon with n synapses of
  ``b = weight + delay + tag + index`` bits, groups of ``synapses_per_group`` synapses each cost
  ``n_g * b + group_header_bits`` rounded up to ``word_bits``. Weight bits: the smallest allowed
  width >= the projection's bits; delay bits when any synapse of the axon has a delay above
  ``delay_min``; tag bits when plastic; index bits: the smallest allowed width >=
  ceil(log2(neurons on the core)).
* **Neurons**: compartments on the core. Sources with a negative core (host-side inputs) occupy nothing.

A leaf module (numpy, numba and the standard library only), so the image can use it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numba
import numpy as np

from neuromap.counting_sort import index_dtype

#: resources in the order they are reported
RESOURCES = ("neurons", "input_axons", "output_axons", "fan_out_cores", "synapse_memory_bits")


@dataclass(frozen=True)
class CoreLimits:
    """The capacities of one core and the memory-accounting constants (a target's ``core``,
    ``synapse`` and ``synapse_memory`` tables). 0 for ``max_output_axons`` / ``max_fan_out_cores`` =
    unlimited; ``memory_model`` other than ``nengo_loihi`` = synapse memory not counted."""

    max_neurons: int
    max_input_axons: int
    max_output_axons: int = 0
    plastic_axon_slots: int = 1
    max_fan_out_cores: int = 0
    memory_model: str = "crossbar"
    synapse_memory_bits: int = 0
    delay_min: int = 1
    weight_bits_max: int = 8
    word_bits: int = 64
    synapses_per_group: int = 64
    group_header_bits: int = 0
    index_bits: tuple[int, ...] = (0,)
    weight_bits: tuple[int, ...] = (0,)
    delay_bits: int = 0
    tag_bits: int = 0

    @property
    def counts_memory(self) -> bool:
        return self.memory_model == "nengo_loihi"

    def limit(self, resource: str) -> int:
        """The limit of ``resource`` (0 = unlimited / not counted)."""
        return {"neurons": self.max_neurons, "input_axons": self.max_input_axons,
                "output_axons": self.max_output_axons, "fan_out_cores": self.max_fan_out_cores,
                "synapse_memory_bits": self.synapse_memory_bits if self.counts_memory else 0}[resource]

    @staticmethod
    def from_target(target: Any) -> "CoreLimits":
        """Limits of a :class:`neuromap.targets.Target`."""
        c, s, m = target.core, target.synapse, target.synapse_memory
        return CoreLimits(int(c.max_neurons), int(c.max_input_axons), int(c.max_output_axons),
                          int(c.plastic_axon_slots), int(s.max_fan_out_cores), str(c.memory_model),
                          int(c.synapse_memory_bits or 0), int(s.delay_min), int(s.weight_bits_max),
                          int(m.word_bits), int(m.synapses_per_group), int(m.group_header_bits),
                          tuple(int(x) for x in m.index_bits), tuple(int(x) for x in m.weight_bits),
                          int(m.delay_bits), int(m.tag_bits))

    @staticmethod
    def from_constants(constants: dict) -> "CoreLimits | None":
        """Limits recorded in an image's ``constants`` (``core``, ``synapse``, ``synapse_memory``);
        None when the image records no core capacities. Without ``synapse_memory`` (images written
        before it was recorded) synapse memory is not counted."""
        c, s, m = constants.get("core") or {}, constants.get("synapse") or {}, constants.get("synapse_memory")
        if not isinstance(c, dict) or "max_neurons" not in c or "max_input_axons" not in c:
            return None
        mem = dict(word_bits=int(m["word_bits"]), synapses_per_group=int(m["synapses_per_group"]),
                   group_header_bits=int(m["group_header_bits"]),
                   index_bits=tuple(int(x) for x in m["index_bits"]),
                   weight_bits=tuple(int(x) for x in m["weight_bits"]), delay_bits=int(m["delay_bits"]),
                   tag_bits=int(m["tag_bits"])) if isinstance(m, dict) else {}
        model = str(c.get("memory_model", "crossbar")) if mem else "not recorded"
        return CoreLimits(int(c["max_neurons"]), int(c["max_input_axons"]), int(c.get("max_output_axons", 0)),
                          int(c.get("plastic_axon_slots", 1)), int(s.get("max_fan_out_cores", 0)), model,
                          int(c.get("synapse_memory_bits") or 0), int(s.get("delay_min", 1)),
                          int(s.get("weight_bits_max", 8)), **mem)


@dataclass(frozen=True)
class InputAxons:
    """The input axons of an assignment, one entry per (core, projection, source) (length A).

    ``core``: the core the axon enters; ``source``: the global source id that drives it (an index
    into the ``source_core`` array given to :func:`count`); ``n_synapses``: its synapses (distinct
    post neurons); ``weight_bits``: stored weight bits of its projection (0 = the target's maximum);
    ``delayed``: some synapse has a delay above ``delay_min``; ``plastic``: its projection learns.
    """

    core: np.ndarray
    source: np.ndarray
    n_synapses: np.ndarray
    weight_bits: np.ndarray
    delayed: np.ndarray
    plastic: np.ndarray

    @property
    def size(self) -> int:
        return int(self.core.shape[0])

    @staticmethod
    def concat(parts: list["InputAxons"]) -> "InputAxons":
        if not parts:
            z = np.zeros(0, np.int64)
            return InputAxons(z, z, z, z, np.zeros(0, bool), np.zeros(0, bool))
        return InputAxons(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in ("core", "source", "n_synapses", "weight_bits", "delayed", "plastic")))


@dataclass(frozen=True)
class CoreUsage:
    """Resource use per core (int64 arrays of length n_cores); ``synapses`` is informative (no limit)."""

    neurons: np.ndarray
    input_axons: np.ndarray        # slots (a plastic axon counts plastic_axon_slots)
    output_axons: np.ndarray
    max_fan_out_cores: np.ndarray  # largest number of cores one source on the core reaches (0 if unlimited)
    memory_bits: np.ndarray        # nengo-loihi synapse memory (0 when not counted)
    synapses: np.ndarray

    def of(self, resource: str) -> np.ndarray:
        return {"neurons": self.neurons, "input_axons": self.input_axons, "output_axons": self.output_axons,
                "fan_out_cores": self.max_fan_out_cores, "synapse_memory_bits": self.memory_bits,
                "synapses": self.synapses}[resource]


@dataclass(frozen=True)
class Violation:
    """One exceeded capacity: ``core``, ``resource`` name, ``used`` and ``limit``."""

    core: int
    resource: str
    used: int
    limit: int

    def __str__(self) -> str:
        return f"core {self.core}: {self.resource} {self.used} > {self.limit}"


def smallest_at_least(options: tuple[int, ...], need: np.ndarray) -> np.ndarray:
    """The smallest entry of sorted ``options`` >= ``need`` (elementwise); -1 where none is."""
    opts = np.asarray(options, np.int64)
    i = np.searchsorted(opts, need, side="left")
    return np.where(i < len(opts), opts[np.minimum(i, len(opts) - 1)], -1)


def index_bits(limits: CoreLimits, neurons_on_core: np.ndarray) -> np.ndarray:
    """Index field width for cores holding ``n`` neurons: the smallest allowed >= ceil(log2 n)."""
    n = np.maximum(np.asarray(neurons_on_core, np.int64), 1)
    need = np.zeros(n.shape, np.int64)
    while np.any((1 << need) < n):      # exact integer ceil(log2 n), at most 63 rounds
        need += (1 << need) < n
    return smallest_at_least(limits.index_bits, need)


def axon_memory_bits(limits: CoreLimits, n_syn: np.ndarray, bits_per_synapse: np.ndarray) -> np.ndarray:
    """nengo-loihi memory bits of input axons with ``n_syn`` synapses of ``bits_per_synapse`` each."""
    g, h, w = limits.synapses_per_group, limits.group_header_bits, limits.word_bits
    n = np.asarray(n_syn, np.int64)
    b = np.asarray(bits_per_synapse, np.int64)
    full, rest = n // g, n % g
    words = lambda k: -(-(k * b + h) // w) * w  # noqa: E731
    return full * words(g) + np.where(rest > 0, words(rest), 0)


def synapse_bits(limits: CoreLimits, axons: InputAxons, neurons_on_core: np.ndarray) -> np.ndarray:
    """Bits per synapse of every input axon: weight + delay + tag + index field."""
    wb = np.where(axons.weight_bits > 0, axons.weight_bits, limits.weight_bits_max)
    return (smallest_at_least(limits.weight_bits, wb) + np.where(axons.delayed, limits.delay_bits, 0)
            + np.where(axons.plastic, limits.tag_bits, 0)
            + index_bits(limits, neurons_on_core)[axons.core])


@numba.njit(cache=True)
def _count_axons(core, source, n_syn, wbits, delayed, plastic, source_core, n_cores, pslots, counts_memory,
                 wlut, wmax, delay_bits, tag_bits, ibits, g, h, w):  # pragma: no cover - compiled
    """One pass over the input axons: input-axon slots, synapses, output axons and memory bits per core."""
    slots = np.zeros(n_cores, np.int64)
    syn = np.zeros(n_cores, np.int64)
    out = np.zeros(n_cores, np.int64)
    mem = np.zeros(n_cores, np.int64)
    for a in range(core.shape[0]):
        c = core[a]
        slots[c] += pslots if plastic[a] else 1
        syn[c] += n_syn[a]
        sc = source_core[source[a]]
        if sc >= 0 and sc < n_cores:
            out[sc] += 1
        if counts_memory:
            bits = _synapse_bits(wbits[a], delayed[a], plastic[a], wlut, wmax, delay_bits, tag_bits, ibits[c])
            mem[c] += _axon_memory(n_syn[a], bits, g, h, w)
    return slots, syn, out, mem


@numba.njit(inline="always")
def _synapse_bits(wbits, delayed, plastic, wlut, wmax, delay_bits, tag_bits, ibits):  # pragma: no cover - compiled
    """Bits of one synapse of an axon: the stored weight width (``wlut`` of the projection's ``wbits``, the
    widest ``wmax`` when 0), delay bits if any synapse of the axon is delayed, tag bits if plastic, and the
    core's post-index bits ``ibits``."""
    return wlut[wbits if wbits > 0 else wmax] + (delay_bits if delayed else 0) + (tag_bits if plastic else 0) \
        + ibits


@numba.njit(inline="always")
def _axon_delayed(syn_ptr, delay, a, delay_min):  # pragma: no cover - compiled
    """Whether a synapse of axon ``a`` has a delay above ``delay_min`` (the axon stores delay bits)."""
    for k in range(syn_ptr[a], syn_ptr[a + 1]):
        if delay[k] > delay_min:
            return True
    return False


@numba.njit(cache=True)
def _axon_memory(n, bits, g, h, w):  # pragma: no cover - compiled
    """Synapse-memory bits of one axon of ``n`` synapses of ``bits`` each: groups of ``g`` with an ``h``-bit
    header, each rounded up to ``w``-bit words."""
    full, rest = n // g, n % g
    m = full * (-(-(g * bits + h) // w) * w)
    if rest > 0:
        m += -(-(rest * bits + h) // w) * w
    return m


def _per_core_setup(limits: CoreLimits, neuron_core: np.ndarray, n_cores: int):
    """Neurons per core (of ``neuron_core``, entries outside ``0..n_cores-1`` left out), whether memory is
    counted, the weight-width lookup and the index bits per core."""
    on = neuron_core[(neuron_core >= 0) & (neuron_core < n_cores)]
    neurons = np.bincount(on, minlength=n_cores).astype(np.int64)
    counts_memory = limits.counts_memory
    wlut = smallest_at_least(limits.weight_bits, np.arange(65)) if counts_memory else np.zeros(65, np.int64)
    ibits = index_bits(limits, neurons) if counts_memory else np.zeros(n_cores, np.int64)
    return neurons, counts_memory, wlut, ibits


def count(limits: CoreLimits, n_cores: int, source_core: np.ndarray, axons: InputAxons,
          n_neurons: int | None = None) -> CoreUsage:
    """Usage of cores ``0..n_cores-1``.

    ``source_core``: core of every source id (neurons and inputs); a negative entry or one
    ``>= n_cores`` is a host-side source that occupies no core. ``n_neurons``: the first
    ``n_neurons`` entries of ``source_core`` are compartments (default: all). One compiled pass over
    the axons (no per-axon temporaries).
    """
    sc = np.asarray(source_core, np.int64)
    nn = sc.shape[0] if n_neurons is None else int(n_neurons)
    neurons, counts_memory, wlut, ibits = _per_core_setup(limits, sc[:nn], n_cores)
    slots, syn, out, mem = _count_axons(
        np.asarray(axons.core), np.asarray(axons.source), np.asarray(axons.n_synapses),
        np.asarray(axons.weight_bits), np.asarray(axons.delayed, np.bool_),
        np.asarray(axons.plastic, np.bool_), sc, int(n_cores), int(limits.plastic_axon_slots), counts_memory,
        wlut.astype(np.int64), int(limits.weight_bits_max), int(limits.delay_bits), int(limits.tag_bits),
        ibits.astype(np.int64), int(limits.synapses_per_group), int(limits.group_header_bits), int(limits.word_bits))
    max_fan = np.zeros(n_cores, np.int64)
    if axons.size and limits.max_fan_out_cores:    # counted only where limited (one sort of the axons)
        ac = np.asarray(axons.core, np.int64)
        key = np.unique(np.asarray(axons.source, np.int64) * max(n_cores, 1) + ac)
        src = key // max(n_cores, 1)
        fan_src, fan = np.unique(src, return_counts=True)
        c = sc[fan_src]
        ok = (c >= 0) & (c < n_cores)
        np.maximum.at(max_fan, c[ok], fan[ok])
    return CoreUsage(neurons, slots, out, max_fan, mem, syn)


def violations(usage: CoreUsage, limits: CoreLimits, resources: tuple[str, ...] = RESOURCES) -> list[Violation]:
    """Every exceeded capacity, by core then resource (in :data:`RESOURCES` order); [] = all fit."""
    found = []
    for r in resources:
        lim = limits.limit(r)
        if not lim:
            continue
        used = usage.of(r)
        for c in np.flatnonzero(used > lim):
            found.append(Violation(int(c), r, int(used[c]), int(lim)))
    order = {r: i for i, r in enumerate(RESOURCES)}
    return sorted(found, key=lambda v: (v.core, order[v.resource]))


def over(usage: CoreUsage, limits: CoreLimits, resources: tuple[str, ...] = RESOURCES) -> np.ndarray:
    """Boolean per core: some of ``resources`` exceeded."""
    bad = np.zeros(usage.neurons.shape[0], bool)
    for r in resources:
        lim = limits.limit(r)
        if lim:
            bad |= usage.of(r) > lim
    return bad


@numba.njit(cache=True)
def _image_axons(axon_ptr, syn_ptr, proj, r_core, r_axon, src_ptr, delay, proj_bits, proj_plastic,
                 delay_min, source):  # pragma: no cover - compiled
    C, A = axon_ptr.shape[0] - 1, syn_ptr.shape[0] - 1
    core = np.empty(A, np.int32)
    source[:] = -1
    n_syn = np.empty(A, np.int32)
    wbits = np.empty(A, np.int8)
    delayed = np.empty(A, np.bool_)
    plastic = np.empty(A, np.bool_)
    for c in range(C):
        for a in range(axon_ptr[c], axon_ptr[c + 1]):
            core[a] = c
    for s in range(src_ptr.shape[0] - 1):
        for r in range(src_ptr[s], src_ptr[s + 1]):
            source[axon_ptr[r_core[r]] + r_axon[r]] = s
    for a in range(A):
        n_syn[a] = syn_ptr[a + 1] - syn_ptr[a]
        wbits[a] = proj_bits[proj[a]]
        plastic[a] = proj_plastic[proj[a]]
        delayed[a] = _axon_delayed(syn_ptr, delay, a, delay_min)
    return core, source, n_syn, wbits, delayed, plastic


def image_input_axons(img: Any) -> tuple[InputAxons, np.ndarray]:
    """The input axons of a compiled image read back from its arrays, and the core of every source id
    (neurons, then inputs at -1: host side). Each axon's source is the one route that names it
    (:meth:`Image.verify` checks that every axon has exactly one). One compiled pass over the arrays."""
    bits, plastic, delay_min, source_core = _image_tables(img)
    arrays = _image_axons(img.cores["axon_ptr"], img.axons["syn_ptr"], img.axons["proj"], img.routes["core"],
                          img.routes["axon"], img.routes["src_ptr"], img.synapses["delay"], bits, plastic, delay_min,
                          np.empty(img.n_axons, index_dtype(img.routes["src_ptr"].shape[0])))   # int32 source ids
    return InputAxons(*arrays), source_core


def _image_tables(img: Any) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """What both image readers take per projection and source: weight bits (int8), plasticity (bool), the
    delay above which an axon stores delay bits (the image's own ``delay_min``, 1 without limits) and the core
    of every source id (neurons, then inputs at -1)."""
    lim = CoreLimits.from_constants(img.constants)
    bits = np.array([p.num_weight_bits for p in img.projections] or [0], np.int8)
    plastic = np.array([p.learning is not None for p in img.projections] or [False], np.bool_)
    source_core = np.concatenate([img.neurons["core"].astype(np.int64), np.full(img.n_inputs, -1, np.int64)])
    return bits, plastic, int(lim.delay_min if lim is not None else 1), source_core


@numba.njit(cache=True)
def _count_image(axon_ptr, syn_ptr, proj, src_ptr, delay, proj_bits, proj_plastic, delay_min,
                 source_core, n_cores, pslots, counts_memory, wlut, wmax, delay_bits, tag_bits, ibits, g, h,
                 w):  # pragma: no cover - compiled
    """:func:`_count_axons` of :func:`image_input_axons`'s table, read straight from the image arrays (no
    per-axon arrays: an image with one neuron per core has about one axon per synapse): per axon its core
    (``axon_ptr``), synapses (``syn_ptr``), projection's bits and plasticity, delayed synapses; output axons
    counted over the routes (each names one axon of its source)."""
    slots = np.zeros(n_cores, np.int64)
    syn = np.zeros(n_cores, np.int64)
    out = np.zeros(n_cores, np.int64)
    mem = np.zeros(n_cores, np.int64)
    for c in range(n_cores):
        for a in range(axon_ptr[c], axon_ptr[c + 1]):
            p = proj[a]
            plastic = proj_plastic[p]
            slots[c] += pslots if plastic else 1
            n = syn_ptr[a + 1] - syn_ptr[a]
            syn[c] += n
            if counts_memory:
                bits = _synapse_bits(proj_bits[p], _axon_delayed(syn_ptr, delay, a, delay_min), plastic, wlut, wmax,
                                     delay_bits, tag_bits, ibits[c])
                mem[c] += _axon_memory(n, bits, g, h, w)
    for s in range(src_ptr.shape[0] - 1):
        sc = source_core[s]
        if sc >= 0 and sc < n_cores:
            out[sc] += src_ptr[s + 1] - src_ptr[s]
    return slots, syn, out, mem


def image_usage(img: Any, limits: CoreLimits | None = None) -> CoreUsage | None:
    """Per-core usage of a compiled image (None if it records no core limits): :func:`count` of
    :func:`image_input_axons`, in one compiled pass over the image's arrays unless fan-out is limited
    (which needs the per-axon sources)."""
    limits = limits or CoreLimits.from_constants(img.constants)
    if limits is None:
        return None
    if limits.max_fan_out_cores:
        axons, source_core = image_input_axons(img)
        usage = count(limits, img.n_cores, source_core, axons, img.n_neurons)
    else:
        usage = _image_count(img, limits)
    shared = getattr(img, "shared_synapse_memory", None)    # kernels of shared-weight (conv) projections
    if shared is not None and limits.counts_memory and getattr(img, "convs", None):
        usage = replace(usage, memory_bits=usage.memory_bits + shared(limits))
    return usage


def _image_count(img: Any, limits: CoreLimits) -> CoreUsage:
    """:func:`count` of an image without its input-axon table (:func:`_count_image`); the same numbers."""
    n_cores = int(img.n_cores)
    neurons, counts_memory, wlut, ibits = _per_core_setup(limits, img.neurons["core"].astype(np.int64), n_cores)
    bits, plastic, delay_min, source_core = _image_tables(img)    # "delayed" as image_input_axons reads it
    slots, syn, out, mem = _count_image(
        img.cores["axon_ptr"], img.axons["syn_ptr"], img.axons["proj"], img.routes["src_ptr"], img.synapses["delay"],
        bits, plastic, delay_min,
        source_core, n_cores,
        int(limits.plastic_axon_slots), counts_memory, wlut.astype(np.int64), int(limits.weight_bits_max),
        int(limits.delay_bits), int(limits.tag_bits), ibits.astype(np.int64), int(limits.synapses_per_group),
        int(limits.group_header_bits), int(limits.word_bits))
    return CoreUsage(neurons, slots, out, np.zeros(n_cores, np.int64), mem, syn)


def utilization(usage: CoreUsage, limits: CoreLimits) -> dict:
    """What ``inspect`` and the placement report show: per resource min / median / max use over the
    cores and its limit (None = unlimited); ``synapses`` has no limit. ``binding``: the resource with
    the highest max/limit (what limited the mapping) and that fraction ``binding_fraction``;
    ``over``: the violations (:func:`violations`) as strings."""
    def stats(a, lim):
        a = np.asarray(a, np.int64)
        if not a.size:
            a = np.zeros(1, np.int64)
        return {"min": float(a.min()), "median": float(np.median(a)), "max": float(a.max()),
                "limit": int(lim) if lim else None}
    names = ["neurons", "input_axons", "output_axons", "fan_out_cores"] + \
        (["synapse_memory_bits"] if limits.counts_memory else [])
    res = {r: stats(usage.of(r), limits.limit(r)) for r in names if r != "fan_out_cores" or limits.limit(r)}
    res["synapses"] = stats(usage.synapses, 0)
    frac = {k: v["max"] / v["limit"] for k, v in res.items() if v["limit"]}
    binding = max(frac, key=lambda k: (frac[k], k)) if frac else None
    return {"per_core": res, "binding": binding, "binding_fraction": frac.get(binding),
            "over": [str(v) for v in violations(usage, limits)]}
