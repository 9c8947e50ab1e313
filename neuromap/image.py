"""The hardware image: what a compiled network is, and its on-disk format.

An :class:`Image` is the single contract between the compiler and everything
that runs a compiled network (the emulator, the Lava backend, reports). It is
plain data: dataclasses of numpy struct-of-arrays in hardware integers. Contract
layer: it imports only numpy, the standard library, :mod:`neuromap.errors`,
:mod:`neuromap.image_files`, :mod:`neuromap.counting_sort` and :mod:`neuromap.core_kinds` (what each kind of core
adds to the format and checks: :meth:`Image.verify` dispatches to it).
``docs/image-format.md`` documents every field.

Index spaces
------------
* **neurons** (compartments), global index ``0..N-1``. Every population of
  neurons owns a contiguous range ``[start, start + size)``. Each neuron sits on
  one core (``neurons.core``) at a core-local slot (``neurons.slot``).
* **inputs** (spike sources driven by the host), global index ``0..I-1``; every
  input population owns a contiguous range.
* **sources** = neurons followed by inputs: source id ``s < N`` is neuron ``s``,
  ``s >= N`` is input ``s - N``. The routing table is indexed by source id.
* **axons**: per core, core-local axon ids ``0..``; globally the axons are
  sorted by core, so the global axon id of (core ``c``, axon ``a``) is
  ``cores.axon_ptr[c] + a``. Every axon belongs to one projection and owns a
  contiguous run of synapses ``axons.syn_ptr[g]:axons.syn_ptr[g+1]``.

One step of a Loihi-style core (semantics: ``docs/emulator.md``): every spike
of source ``s`` at step ``t`` travels each route ``(core, axon, delay_r)`` of
``s`` and each synapse ``(post, weight, delay)`` of that axon adds
``weight`` to the dendritic accumulator of ``post`` for step
``t + delay + delay_r`` (after the per-projection ``weight_exp`` shift).

Saved as a directory: ``manifest.json`` (format version, target, source hash,
compiler options, metadata, sha256 of every array) + ``arrays.npz``.
:func:`load_image` checks the version, every checksum and every invariant
(:meth:`Image.verify`); anything else is an :class:`~neuromap.errors.ImageError`.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from neuromap import conv_geometry, core_kinds as _core_kinds, embedded, image_files as _files, learning_engines
from neuromap.core_kinds import loihi_lif as _loihi_lif
from neuromap.core_kinds.fields import check_length as _len, check_range as _rng

# the loihi_lif core's arithmetic and weight encoding, importable from here as before
from neuromap.core_kinds.loihi_lif import (  # noqa: F401
    BIAS_EXP_MAX,
    BIAS_EXP_MIN,
    BIAS_MANT_MAX,
    BIAS_MANT_MIN,
    DU_MAX,
    DV_MAX,
    LAVA_SIGN_MODE,
    LOIHI_ARITHMETIC,
    SIGN_MODES,
    UV_MAX,
    UV_MIN,
    VTH_MAX,
    LifArithmetic,
    encode_weights,
    lava_sign_mode,
    weight_problem,
    weight_range,
    weight_step,
)
from neuromap.counting_sort import group_by_lookup, index_dtype
from neuromap.errors import ImageError
from neuromap.poisson_stream import KINDS as _POISSON_KINDS, SEQUENTIAL

#: bump on any incompatible change of the fields below; version 2: the arrays in bundle files, one per chip
#: (``shards/NNNNN.bin``) plus ``common.bin``, so a rank of a sharded run reads only its chips'
FORMAT_VERSION = 2
#: versions :func:`load_image` reads (1: one ``arrays.npz``)
READABLE_VERSIONS = _files.READABLE_VERSIONS
#: cores per shard of images without ``cores.chip`` (format version 2)
SHARD_CORES = 128

#: core kinds an image may contain (:mod:`neuromap.core_kinds`: one module each)
CORE_KINDS = tuple(_core_kinds.CORE_KINDS)

MAX_DELAY = 64                # synaptic delay in steps; Lava delay = delay - 1 in 0..63
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7

#: per-neuron fields of every image (name -> dtype): core and slot, then the Loihi compartment fields format
#: version 1 stores in every image (:data:`neuromap.core_kinds.loihi_lif.FIELDS`; TrueNorth images hold zeros)
_NEURON_FIELDS = {"core": np.int32, "slot": np.int32,
                  **{f.name: f.dtype for f in _loihi_lif.FIELDS if not f.optional}}
_SYN_FIELDS = {"post": np.int32, "weight": np.int16, "delay": np.uint8}
_AXON_FIELDS = {"proj": np.int32, "syn_ptr": np.int64}
_CORE_FIELDS = {"kind": np.int8, "axon_ptr": np.int64}
#: optional per-core mesh position (written by the ``place`` pass; absent in older images)
_CORE_OPTIONAL = {"tile_x": np.int32, "tile_y": np.int32, "chip": np.int32}
_ROUTE_FIELDS = {"src_ptr": np.int64, "core": np.int32, "axon": np.int32, "delay": np.uint8}
_INPUT_FIELDS = {"spike_step": np.int64, "spike_index": np.int32, "poisson_p": np.float64}

@dataclass
class PopulationMap:
    """Where a population of the source network lives in the image.

    kind ``neuron``: neurons ``[start, start+size)``; kind ``input``: inputs
    ``[start, start+size)``. ``model`` is the network model name
    (``loihi_lif``, ``spike_source``, ``poisson`` ...).
    """

    name: str
    kind: str
    model: str
    start: int
    size: int


@dataclass
class ProjectionMap:
    """Per-projection synapse configuration shared by all its axons/synapses.

    weight_exp: signed 4 bit (-8..7): the per-step sum of a projection's
    weights onto one (post, delay) is shifted left (right if negative,
    arithmetic, i.e. floor) by it. num_weight_bits 1..8 and sign_mode describe
    how weights are stored (:func:`encode_weights`). ``storage`` is a hint for
    backends (``dense`` crossbar or ``sparse`` rows); the image always stores
    rows. ``learning`` is ``None`` or the learning-engine configuration
    (a JSON dict whose ``"engine"`` names the engine: ``loihi`` for Lava's
    2-factor rules, or a neuromap integer seed rule; docs/learning.md) and
    ``learning_arrays`` its per-synapse arrays (saved as ``proj.<k>.learning.<name>``).
    """

    name: str
    pre: str
    post: str
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: str = "mixed"
    storage: str = "sparse"
    learning: dict[str, Any] | None = None
    learning_arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ProbeMap:
    """Record ``variables`` of ``population``; ``neurons`` are population-local indices for u/v
    (spikes are always recorded for every neuron and input)."""

    population: str
    variables: tuple[str, ...] = ("spikes",)
    neurons: np.ndarray | None = None


@dataclass
class Image:
    """A compiled network.

    Array groups (struct-of-arrays, dtypes fixed; see module docstring):

    * ``neurons`` (N): core, slot, du, dv (uint16, 12 bit), vth (int32, 17 bit
      unsigned), bias_mant (int16, 13 bit signed), bias_exp (int8, 0..7),
      u_init/v_init (int32).
    * ``cores`` (C): kind (int8 index into ``core_kinds``), axon_ptr (C+1, int64);
      optional tile_x, tile_y (int32 board-wide router coordinates) and chip (int32), all or none.
    * ``axons`` (A): proj (int32 projection index), syn_ptr (A+1, int64).
    * ``synapses`` (S): post (int32 global neuron), weight (int16 stored
      weight), delay (uint8, 1..64; 1 = next step).
    * ``routes``: src_ptr (N+I+1, int64) over source ids; per entry core
      (int32), axon (int32 core-local), delay (uint8 extra axonal delay,
      0 on Loihi-style cores).
    * ``inputs``: spike_step (int64) / spike_index (int32 input id) sorted by
      step (explicit spike times); poisson_p (I, float64: expected events per
      step of Poisson inputs (a Bernoulli probability up to 1, a Poisson count mean above: several
      events per step), NaN for explicit-time inputs).
    * Each core kind declares the fields it adds and checks them (:mod:`neuromap.core_kinds`): TrueNorth images
      (``core_kinds == ["truenorth"]``) add ``neurons.tn_*`` (``tn_s``/``tn_b`` (N, 4)) and ``axons.tn_type``
      (:data:`neuromap.core_kinds.truenorth.FIELDS`, docs/image-format.md).
    """

    target: str
    constants: dict[str, Any]
    core_kinds: list[str]
    populations: list[PopulationMap]
    projections: list[ProjectionMap]
    probes: list[ProbeMap]
    neurons: dict[str, np.ndarray]
    cores: dict[str, np.ndarray]
    axons: dict[str, np.ndarray]
    synapses: dict[str, np.ndarray]
    routes: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    seed: int = 0
    source_hash: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    network_name: str = "network"
    format_version: int = FORMAT_VERSION
    #: neuron arithmetic of the loihi_lif cores (manifest ``arithmetic``; absent = Loihi's)
    arithmetic: LifArithmetic = LOIHI_ARITHMETIC
    #: the compile's per-pass records (manifest ``pass_records``, optional: options, statistics, timings,
    #: peak memory of each pass and analysis; ``neuromap.compiler.result.PassRecord.to_dict``); [] = none
    pass_records: list[dict[str, Any]] = field(default_factory=list)
    #: convolutional projections stored as kernel + geometry (optional section ``conv``, :mod:`neuromap.conv_geometry`)
    convs: list[conv_geometry.ConvMap] = field(default_factory=list)
    #: embedded-core controllers (optional section ``controllers``, :mod:`neuromap.embedded`)
    controllers: list[embedded.ControllerMap] = field(default_factory=list)
    #: the Poisson inputs' stream kind (manifest ``poisson_stream``, :mod:`neuromap.poisson_stream`; absent =
    #: ``sequential``, the one generator of images compiled before the per-input streams)
    poisson_stream: str = SEQUENTIAL

    # ------------------------------------------------------------------ sizes
    @property
    def n_neurons(self) -> int:
        return int(self.neurons["core"].shape[0])

    @property
    def n_inputs(self) -> int:
        return int(self.inputs["poisson_p"].shape[0])

    @property
    def n_cores(self) -> int:
        return int(self.cores["kind"].shape[0])

    @property
    def n_axons(self) -> int:
        return int(self.axons["proj"].shape[0])

    @property
    def n_synapses(self) -> int:
        return int(self.synapses["post"].shape[0])

    def population(self, name: str) -> PopulationMap:
        for p in self.populations:
            if p.name == name:
                return p
        raise ImageError(f"image has no population {name!r}")

    def source_ids(self, pop: PopulationMap) -> np.ndarray:
        """Source ids (routing-table index) of a population's members."""
        base = 0 if pop.kind == "neuron" else self.n_neurons
        return np.arange(base + pop.start, base + pop.start + pop.size, dtype=np.int64)

    def synapse_projections(self) -> np.ndarray:
        """Projection index of every synapse (int64[S], image synapse order), from its axon's ``proj``."""
        return np.repeat(self.axons["proj"].astype(np.int64), np.diff(self.axons["syn_ptr"].astype(np.int64)))

    def max_delay(self) -> int:
        """Largest total delay (synaptic + axonal) in steps; 1 if there are no synapses."""
        d = int(self.synapses["delay"].max()) if self.n_synapses else 1
        r = int(self.routes["delay"].max()) if self.routes["delay"].size else 0
        return max(1, d + r)

    # ------------------------------------------------------------- checking
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array under its archive name (``neurons.du``, ``proj.0.learning.x`` ...)."""
        out = {}
        for group in ("neurons", "cores", "axons", "synapses", "routes", "inputs"):
            for k, v in getattr(self, group).items():
                out[f"{group}.{k}"] = v
        for i, p in enumerate(self.projections):
            for k, v in p.learning_arrays.items():
                out[f"proj.{i}.learning.{k}"] = v
        for i, cm in enumerate(self.convs):
            out[f"conv.{i}.kernel"] = cm.kernel
        for i, c in enumerate(self.controllers):
            for k, v in c.arrays.items():
                out[f"ctl.{i}.{k}"] = v
        return out

    def shared_synapse_memory(self, limits) -> np.ndarray:
        """Per-core synapse-memory bits of the shared-weight (conv) projections (:mod:`neuromap.conv_geometry`),
        which :func:`neuromap.capacity.image_usage` adds to the explicit synapses' bits."""
        return conv_geometry.shared_memory_bits(self, limits)

    def verify(self) -> None:
        """Check every invariant of the format; raise a one-line :class:`ImageError` on the first violation."""
        if self.format_version not in READABLE_VERSIONS:
            raise ImageError(f"image format version {self.format_version} is not supported "
                             f"(this neuromap reads versions {', '.join(map(str, READABLE_VERSIONS))}; "
                             "recompile the network)")
        for group, spec in (("neurons", _NEURON_FIELDS), ("synapses", _SYN_FIELDS), ("axons", _AXON_FIELDS),
                            ("cores", _CORE_FIELDS), ("routes", _ROUTE_FIELDS), ("inputs", _INPUT_FIELDS)):
            arrs = getattr(self, group)
            for k, dt in spec.items():
                if k not in arrs:
                    raise ImageError(f"image array {group}.{k} is missing")
                a = arrs[k]
                if not isinstance(a, np.ndarray) or a.dtype != dt or a.ndim != 1:
                    raise ImageError(f"image array {group}.{k} must be 1-d {np.dtype(dt).name}, "
                                     f"got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}")
        N, C, A, S, I = self.n_neurons, self.n_cores, self.n_axons, self.n_synapses, self.n_inputs
        for group, n, keys in (("neurons", N, _NEURON_FIELDS), ("synapses", S, _SYN_FIELDS)):
            for k in keys:
                if getattr(self, group)[k].shape[0] != n:
                    raise ImageError(f"image array {group}.{k} has length {getattr(self, group)[k].shape[0]}, "
                                     f"expected {n}")
        _len(self.cores["axon_ptr"], C + 1, "cores.axon_ptr")
        have = [k for k in _CORE_OPTIONAL if k in self.cores]
        if have and len(have) != len(_CORE_OPTIONAL):
            need = ", cores.".join(sorted(set(_CORE_OPTIONAL) - set(have)))
            raise ImageError(f"image cores.{have[0]} needs cores.{need}")
        for k in have:
            a = self.cores[k]
            if not isinstance(a, np.ndarray) or a.dtype != _CORE_OPTIONAL[k] or a.ndim != 1:
                raise ImageError(f"image array cores.{k} must be 1-d int32")
            _len(a, C, f"cores.{k}")
            _rng(a, 0, None, f"cores.{k}")
        _len(self.axons["syn_ptr"], A + 1, "axons.syn_ptr")
        _len(self.routes["src_ptr"], N + I + 1, "routes.src_ptr")
        R = int(self.routes["core"].shape[0])
        _len(self.routes["axon"], R, "routes.axon")
        _len(self.routes["delay"], R, "routes.delay")
        _len(self.inputs["spike_index"], self.inputs["spike_step"].shape[0], "inputs.spike_index")
        _ptr(self.cores["axon_ptr"], A, "cores.axon_ptr")
        _ptr(self.axons["syn_ptr"], S, "axons.syn_ptr")
        _ptr(self.routes["src_ptr"], R, "routes.src_ptr")
        kind = _core_kinds.image_core_kind(self)     # known, and one kind per image
        _rng(self.cores["kind"], 0, len(self.core_kinds) - 1, "cores.kind")
        nu = self.neurons
        _rng(nu["core"], 0, C - 1, "neurons.core")
        _rng(nu["slot"], 0, None, "neurons.slot")
        if N and np.unique(nu["core"].astype(np.int64) << 32 | nu["slot"].astype(np.int64)).shape[0] != N:
            raise ImageError("image neurons.slot: two neurons share a (core, slot)")
        _rng(self.axons["proj"], 0, len(self.projections) - 1, "axons.proj")
        sy = self.synapses
        _rng(sy["post"], 0, N - 1, "synapses.post")
        _rng(sy["delay"], 1, MAX_DELAY, "synapses.delay")
        rt = self.routes
        _rng(rt["core"], 0, C - 1, "routes.core")
        if R and _first_bad_route(rt["core"], rt["axon"], self.cores["axon_ptr"]) >= 0:
            raise ImageError("image routes.axon: a route names an axon its core does not have")
        _rng(rt["delay"], 0, MAX_DELAY, "routes.delay")
        inp = self.inputs
        _rng(inp["spike_index"], 0, I - 1, "inputs.spike_index")
        _rng(inp["spike_step"], 0, None, "inputs.spike_step")
        if np.any(np.diff(inp["spike_step"]) < 0):
            raise ImageError("image inputs.spike_step must be sorted")
        if self.poisson_stream not in _POISSON_KINDS:
            raise ImageError(f"image poisson_stream {self.poisson_stream!r} is not one of {', '.join(_POISSON_KINDS)}")
        p = inp["poisson_p"]
        if np.any((p[~np.isnan(p)] < 0) | ~np.isfinite(p[~np.isnan(p)])):
            raise ImageError("image inputs.poisson_p must be a finite count of events per step >= 0 or NaN")
        # synapses of an axon target neurons of the axon's core, with the projection's weight encoding
        if S:
            per_proj = np.zeros(max(len(self.projections), 1), np.int64)
            if _first_foreign_synapse(self.cores["axon_ptr"], self.axons["syn_ptr"], self.axons["proj"], sy["post"],
                                      nu["core"], per_proj) >= 0:
                raise ImageError("image synapses.post: a synapse targets a neuron on another core than its axon")
            for k, pm in enumerate(self.projections):   # settings here, stored weights by the core kind
                _check_projection(k, pm, np.zeros(0, np.int64), n_syn=int(per_proj[k]),
                                  voltage_bits=self.arithmetic.voltage_bits)
        else:
            for k, pm in enumerate(self.projections):
                _check_projection(k, pm, np.zeros(0, np.int64), voltage_bits=self.arithmetic.voltage_bits)
        names = set()
        for pop in self.populations:
            if pop.name in names:
                raise ImageError(f"image population {pop.name!r} appears twice")
            names.add(pop.name)
            total = N if pop.kind == "neuron" else I if pop.kind == "input" else None
            if total is None:
                raise ImageError(f"image population {pop.name!r} has kind {pop.kind!r} (use neuron or input)")
            if pop.start < 0 or pop.size < 0 or pop.start + pop.size > total:
                raise ImageError(f"image population {pop.name!r} range [{pop.start}, {pop.start + pop.size}) "
                                 f"exceeds the {total} {pop.kind}s")
        for pr in self.probes:
            pop = self.population(pr.population)
            if pr.neurons is not None and pr.neurons.size and (pr.neurons.min() < 0 or pr.neurons.max() >= pop.size):
                raise ImageError(f"image probe of {pr.population!r}: neuron index out of range")
            bad = [v for v in pr.variables if v not in ("spikes", "u", "v")]
            if bad or (pop.kind == "input" and set(pr.variables) - {"spikes"}):
                raise ImageError(f"image probe of {pr.population!r}: cannot record {bad or list(pr.variables)}")

        if self.convs:
            conv_geometry.verify(self)
        if self.controllers:
            embedded.verify(self)
        kind.verify(self)     # what the core kind adds (neuromap.core_kinds: its fields, weights, capacities)

    # ------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike, force: bool = False, format_version: int = FORMAT_VERSION) -> Path:
        """Write the image directory atomically (temp dir + atomic exchange, :mod:`neuromap.image_files`).

        ``path`` may be absent, an empty directory or a neuromap image (which is replaced); anything else
        (a directory with other files, a file) is refused unless ``force``. ``manifest.json`` carries
        ``manifest_sha256``, the checksum of all its other fields. ``format_version`` 2 (default) writes the
        arrays as bundles per shard (:func:`shard_arrays`); 1 writes one ``arrays.npz``."""
        self.verify()
        if format_version not in READABLE_VERSIONS:
            raise ImageError(f"cannot write image format version {format_version} "
                             f"(use one of {', '.join(map(str, READABLE_VERSIONS))})")
        path = Path(path)
        _files.recover(path)
        _files.check_replaceable(path, force)
        arrays = self.arrays()
        manifest = {
            "format": "neuromap-image",
            "format_version": int(format_version),
            "target": self.target,
            "network_name": self.network_name,
            "source_hash": self.source_hash,
            "seed": int(self.seed),
            "options": self.options,
            "constants": self.constants,
            "core_kinds": list(self.core_kinds),
            **{k: v for name in dict.fromkeys(self.core_kinds)
               for k, v in _core_kinds.core_kind(name).manifest_fields(self).items()},
            "populations": [vars(p) for p in self.populations],
            "projections": [{k: v for k, v in vars(p).items() if k != "learning_arrays"}
                            for p in self.projections],
            "probes": [{"population": p.population, "variables": list(p.variables),
                        "neurons": None if p.neurons is None else [int(i) for i in p.neurons]}
                       for p in self.probes],
            **({"conv": [cm.manifest() for cm in self.convs]} if self.convs else {}),
            **({"controllers": [c.manifest() for c in self.controllers]} if self.controllers else {}),
            "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape), "sha256": _digest(v)}
                       for k, v in arrays.items()},
            **({"pass_records": self.pass_records} if self.pass_records else {}),
            **({"poisson_stream": self.poisson_stream} if self.poisson_stream != SEQUENTIAL else {}),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            if format_version == 1:
                buf = io.BytesIO()
                np.savez(buf, **arrays)
                (tmp / "arrays.npz").write_bytes(buf.getvalue())
            else:
                manifest["common"] = _files.write_bundle(tmp / _files.bundle_name(None), common_arrays(self))
                manifest["shards"] = [{"cores": [int(c) for c in cores],      # one shard in memory at a time
                                       **_files.write_bundle(tmp / _files.bundle_name(i), arrs)}
                                      for i, (cores, arrs) in enumerate(iter_shards(self))]
            manifest = json.loads(json.dumps(manifest, default=_json_default))   # what load_image will see
            manifest["manifest_sha256"] = _files.manifest_digest(manifest)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
            _files.replace_dir(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path


def load_image(path: str | os.PathLike) -> Image:
    """Read an image directory as untrusted input (:mod:`neuromap.image_files`): regular files only, the
    manifest's checksum and schema, array headers against the manifest before allocation, every array's
    checksum, then every invariant (:meth:`Image.verify`). Any problem is one :class:`ImageError` line."""
    path = Path(path)
    _files.recover(path)
    m = _files.read_manifest(path, READABLE_VERSIONS)
    arrays = _files.read_arrays(path, m["arrays"]) if m["format_version"] == 1 else _read_shards(path, m)
    for k, meta in m["arrays"].items():
        if _digest(arrays[k]) != meta["sha256"]:
            raise ImageError(f"{path}: array {k!r} fails its checksum (image edited or truncated; recompile)")
    img = image_from_manifest(m, arrays, path)
    img.verify()
    return img


def image_from_manifest(m: dict, arrays: dict[str, np.ndarray], path: Path) -> Image:
    """The :class:`Image` of a checked manifest and its arrays (by archive name), not verified."""
    def grp(name):
        return {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(name + ".")}

    projections = []
    for i, p in enumerate(m["projections"]):
        la = {k.split(".", 3)[3]: v for k, v in arrays.items()
              if k.startswith(f"proj.{i}.learning.") and k.count(".") >= 3}
        projections.append(ProjectionMap(**p, learning_arrays=la))
    img = Image(
        target=m["target"], constants=m["constants"], core_kinds=list(m["core_kinds"]),
        populations=[PopulationMap(**p) for p in m["populations"]],
        projections=projections,
        probes=[ProbeMap(p["population"], tuple(p["variables"]),
                         None if p["neurons"] is None else np.asarray(p["neurons"], dtype=np.int64))
                for p in m["probes"]],
        neurons=grp("neurons"), cores=grp("cores"), axons=grp("axons"), synapses=grp("synapses"),
        routes=grp("routes"), inputs=grp("inputs"),
        seed=m["seed"], source_hash=m["source_hash"], options=m["options"],
        network_name=m["network_name"], format_version=m["format_version"],
        arithmetic=(LifArithmetic.from_dict(m["arithmetic"], str(path / "manifest.json")) if "arithmetic" in m
                    else LOIHI_ARITHMETIC),
        convs=[conv_geometry.ConvMap.from_manifest(c, arrays.get(f"conv.{i}.kernel"))
               for i, c in enumerate(m.get("conv", []))],
        controllers=[embedded.ControllerMap.from_manifest(
            c, {k.split(".", 2)[2]: v for k, v in arrays.items() if k.startswith(f"ctl.{i}.") and k.count(".") == 2})
            for i, c in enumerate(m.get("controllers", []))],
        pass_records=list(m.get("pass_records", [])), poisson_stream=m.get("poisson_stream", SEQUENTIAL))
    return img


# ------------------------------------------------------------ format version 2: shards
#: array groups split by row over the shards (format version 2); every other array is in ``common.bin``.
#: ``neurons.core`` and ``routes.src_ptr`` stay common (every rank reads them), ``axons.syn_ptr`` is replaced
#: by each shard's ``axons.syn_first`` (global first synapse of each axon) and ``axons.syn_count``
_COMMON = {"neurons.core", "routes.src_ptr", "axons.syn_ptr"}


def shard_units(image: Image) -> np.ndarray:
    """The shard of every core (int64[C]): its chip (``cores.chip``), else ``core // SHARD_CORES``."""
    if "chip" in image.cores:
        return image.cores["chip"].astype(np.int64)
    return np.arange(image.n_cores, dtype=np.int64) // SHARD_CORES


def _concat_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    n = hi - lo
    if n.sum() == 0:
        return np.zeros(0, np.int64)
    first = np.cumsum(n) - n
    owner = np.repeat(np.arange(lo.size), n)
    return np.arange(owner.size, dtype=np.int64) - first[owner] + lo[owner]


def _grouped(items: np.ndarray, bucket_of: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``0..len(items)-1`` grouped by ``bucket_of[items]`` (ascending within a bucket) and the start
    of every bucket's run: one counting sort, so each shard takes a slice (no pass over all rows per shard)."""
    perm = np.empty(items.shape[0], index_dtype(items.shape[0]))
    ptr = group_by_lookup(items, bucket_of, int(n_buckets), perm)
    return perm, ptr


def iter_shards(image: Image):
    """The shards of a format version 2 image, one at a time (:func:`shard_units`, ascending): per shard its cores
    and arrays (``neurons.id``, ``axons.syn_first``, ``axons.syn_count``, ``routes.index`` and the rows of every
    other neurons/axons/synapses/routes array). Only one shard's rows are in memory at a time; neurons and
    routes are grouped by shard once (a counting sort), so the whole is O(rows + cores)."""
    arrays = image.arrays()
    unit = shard_units(image)
    units, shard_of_core = np.unique(unit, return_inverse=True)
    shard_of_core = shard_of_core.astype(np.int64)
    n_sh = int(units.size)
    core_perm, core_ptr = _grouped(np.arange(image.n_cores), shard_of_core, n_sh)
    neuron_perm, neuron_ptr = _grouped(image.neurons["core"], shard_of_core, n_sh)
    route_perm, route_ptr = _grouped(image.routes["core"], shard_of_core, n_sh)
    ap = image.cores["axon_ptr"]
    sp = image.axons["syn_ptr"]
    for i in range(n_sh):
        cores = core_perm[core_ptr[i]:core_ptr[i + 1]].astype(np.int64)
        ax = _concat_ranges(ap[cores].astype(np.int64), ap[cores + 1].astype(np.int64))
        first = sp[ax].astype(np.int64)
        count = sp[ax + 1].astype(np.int64) - first
        rows = {"neurons": neuron_perm[neuron_ptr[i]:neuron_ptr[i + 1]].astype(np.int64), "axons": ax,
                "synapses": _concat_ranges(first, first + count),
                "routes": route_perm[route_ptr[i]:route_ptr[i + 1]].astype(np.int64)}
        out = {"neurons.id": rows["neurons"], "axons.syn_first": first, "axons.syn_count": count,
               "routes.index": rows["routes"]}
        for k, v in arrays.items():
            g = k.split(".")[0]
            if g in _SHARDED and k not in _COMMON:
                out[k] = v[rows[g]]
        del rows
        yield cores, out


def common_arrays(image: Image) -> dict[str, np.ndarray]:
    """The arrays of a format version 2 image that are not split over shards (``common.bin``)."""
    return {k: v for k, v in image.arrays().items()
            if k != "axons.syn_ptr" and (k in _COMMON or k.split(".")[0] not in _SHARDED)}


def shard_arrays(image: Image) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, dict[str, np.ndarray]]]]:
    """The arrays of a format version 2 image: the common ones (:func:`common_arrays`), and per shard its cores
    and arrays (:func:`iter_shards`, all in memory at once; :meth:`Image.save` writes them one by one)."""
    return common_arrays(image), list(iter_shards(image))


_SHARDED = ("neurons", "axons", "synapses", "routes")
#: the arrays a shard adds: where its rows go in the whole image
SHARD_INDEX = ("neurons.id", "axons.syn_first", "axons.syn_count", "routes.index")


def read_shards(path: Path, m: dict, which: list[int] | None = None) -> tuple[dict, list[dict]]:
    """The common arrays and the arrays of shards ``which`` (default: all) of a version 2 image, memory-mapped
    after each bundle passes its checksum (:func:`neuromap.image_files.read_bundle`)."""
    budget = [_files.memory_limit() // 2]
    common = _files.read_bundle(path, None, m["common"], budget)
    idx = range(len(m["shards"])) if which is None else which
    return common, [_files.read_bundle(path, i, m["shards"][i], budget) for i in idx]


def _read_shards(path: Path, m: dict) -> dict[str, np.ndarray]:
    """Every array of a version 2 image, assembled whole from its bundles (then checked against the manifest's
    ``arrays`` table like a version 1 image's). One shard's bundle is mapped at a time (checked, copied into the
    whole arrays, unmapped): the process holds the assembled arrays plus one shard's file pages, not the whole
    image twice."""
    budget = [_files.memory_limit() // 2]
    common = _files.read_bundle(path, None, m["common"], budget)
    table = m["arrays"]
    bad = ImageError(f"{path}: the shards do not match the manifest's arrays (image edited; recompile)")

    def check_names(names) -> None:
        extra = sorted(set(names) - set(table) - set(SHARD_INDEX))
        if extra:
            raise ImageError(f"{path}: array {extra[0]!r} of a bundle is not in the manifest's arrays (image edited; "
                             "recompile)")

    check_names(common)
    out = {}
    for k, meta in table.items():
        if k in common:
            out[k] = np.array(common[k])
            continue
        if k.split(".")[0] not in _SHARDED:
            raise ImageError(f"{path}: array {k!r} is in no bundle (image edited; recompile)")
        out[k] = np.zeros(tuple(meta["shape"]), np.dtype(meta["dtype"]))
    del common
    for k in ("cores.axon_ptr", "axons.syn_ptr"):
        if k not in table:
            raise ImageError(f"{path}: array {k!r} is missing (recompile the network)")
    ap = out["cores.axon_ptr"].astype(np.int64)
    if ap.shape[0] < 1 or np.any(np.diff(ap) < 0) or ap[0] != 0 or ap[-1] != table["axons.syn_ptr"]["shape"][0] - 1:
        raise bad
    sp = out["axons.syn_ptr"]
    for i, entry in enumerate(m["shards"]):
        sh = _files.read_bundle(path, i, entry, budget)
        check_names(sh)
        cores = np.asarray(entry["cores"], np.int64)
        if cores.size and cores.max() >= ap.shape[0] - 1:
            raise bad
        ax = _concat_ranges(ap[cores], ap[cores + 1])
        try:
            first, count = np.asarray(sh["axons.syn_first"], np.int64), np.asarray(sh["axons.syn_count"], np.int64)
            sp[ax + 1] = first + count
            rows = {"neurons": np.asarray(sh["neurons.id"], np.int64), "axons": ax,
                    "synapses": _concat_ranges(first, first + count),
                    "routes": np.asarray(sh["routes.index"], np.int64)}
            for k, v in sh.items():
                g = k.split(".")[0]
                if k in out and g in _SHARDED and k not in _COMMON:
                    out[k][rows[g]] = v
        except (KeyError, IndexError, ValueError):
            raise bad from None
        del sh, rows                     # unmapped: its file pages leave this process's resident set
    return out


# ---------------------------------------------------------------- helpers
@numba.njit(cache=True)
def _first_bad_route(r_core, r_axon, axon_ptr):  # pragma: no cover - compiled
    """The first route naming an axon its core does not have (``r_core`` already in range), else -1: one
    pass, no per-route temporaries."""
    for r in range(r_core.shape[0]):
        c = r_core[r]
        if r_axon[r] < 0 or r_axon[r] >= axon_ptr[c + 1] - axon_ptr[c]:
            return r
    return -1


@numba.njit(cache=True)
def _first_foreign_synapse(axon_ptr, syn_ptr, proj, post, neuron_core, per_proj):  # pragma: no cover - compiled
    """The first synapse whose post neuron is on another core than its axon, else -1; ``per_proj`` += the
    synapses of each projection's axons. One pass over the synapses (``post`` already in range)."""
    for c in range(axon_ptr.shape[0] - 1):
        for a in range(axon_ptr[c], axon_ptr[c + 1]):
            per_proj[proj[a]] += syn_ptr[a + 1] - syn_ptr[a]
            for k in range(syn_ptr[a], syn_ptr[a + 1]):
                if neuron_core[post[k]] != c:
                    return k
    return -1


def _digest(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8)))      # no bytes copy of the array
    return h.hexdigest()


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in an image manifest")


def _ptr(a: np.ndarray, end: int, name: str) -> None:
    if a[0] != 0 or a[-1] != end or np.any(np.diff(a) < 0):
        raise ImageError(f"image array {name} is not a valid offset array (0 .. {end}, non-decreasing)")


def _check_projection(k: int, pm: ProjectionMap, w: np.ndarray, n_syn: int | None = None,
                      voltage_bits: int | None = None) -> None:
    where = f"image projection {k} ({pm.name})"
    if pm.sign_mode not in SIGN_MODES:
        raise ImageError(f"{where}: sign_mode {pm.sign_mode!r} is not one of {', '.join(SIGN_MODES)}")
    if not (1 <= pm.num_weight_bits <= 8):
        raise ImageError(f"{where}: num_weight_bits {pm.num_weight_bits} is outside [1, 8]")
    if not (WEIGHT_EXP_MIN <= pm.weight_exp <= WEIGHT_EXP_MAX):
        raise ImageError(f"{where}: weight_exp {pm.weight_exp} is outside [{WEIGHT_EXP_MIN}, {WEIGHT_EXP_MAX}]")
    bad = weight_problem(pm.sign_mode, pm.num_weight_bits, w)
    if bad:
        raise ImageError(f"{where}: {bad}")
    _check_learning(where, pm, w.size if n_syn is None else n_syn, voltage_bits)


def _check_learning(where: str, pm: ProjectionMap, n_syn: int, voltage_bits: int | None = None) -> None:
    """``learning`` / ``learning_arrays`` against the engine's typed schema
    (:func:`neuromap.learning_engines.verify`: every field's type and range, the engine's tables; for
    ``loihi`` also the projection's sign_mode and num_weight_bits); arrays are numeric numpy arrays."""
    lr, arrs = pm.learning, pm.learning_arrays
    if lr is None:
        if arrs:
            raise ImageError(f"{where}: learning arrays without a learning configuration")
        return
    if not isinstance(lr, dict) or not isinstance(lr.get("engine"), str) or not lr["engine"]:
        raise ImageError(f"{where}: learning must be a dict naming its engine (e.g. \"engine\": \"loihi\")")
    for name, a in arrs.items():
        if not isinstance(a, np.ndarray) or a.ndim < 1 or a.dtype.kind not in "iuf":
            raise ImageError(f"{where}: learning array {name!r} must be a numeric numpy array")
    learning_engines.verify(lr, arrs, n_syn, pm.sign_mode, pm.num_weight_bits, where, voltage_bits=voltage_bits)
