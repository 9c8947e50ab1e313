"""Hardware targets as data: ``neuromap/targets/*.toml`` loaded into one frozen, typed tree.

Every compiler pass, the image and the emulator read hardware constants from a
:class:`Target`; no hardware constant lives in code. ``docs/targets.md`` documents
every field with its unit. A lab describes its own chip with a TOML file of the
same schema, passed by path where a target name goes (``--target mychip.toml``).

>>> t = load_target("loihi")
>>> t.core.max_neurons, t.energy.synaptic_op_pj
(1024, 23.6)

Validation: a missing, mistyped, out-of-range or unknown field raises a one-line
:class:`~neuromap.errors.TargetError` ``FILE: FIELD: PROBLEM (FIX)``.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuromap.errors import TargetError

_DIR = Path(__file__).resolve().parent
SCHEMA_VERSION = 1


def _f(lo: float | None = None, hi: float | None = None, unit: str = "",
       choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    """A schema field: allowed range [lo, hi] (inclusive; lists: per element), unit and meaning."""
    return field(metadata={"lo": lo, "hi": hi, "unit": unit, "choices": choices, "doc": doc})


@dataclass(frozen=True)
class NeuronSpec:
    """Neuron state widths (bits) and the models the cores can run."""

    models: tuple[str, ...] = _f(doc="neuron models (neuromap names) a core can run")
    voltage_bits: int = _f(1, 64, "bit", doc="signed membrane-voltage register width")
    current_bits: int = _f(0, 64, "bit", doc="signed synaptic-current register width (0 = no current state)")
    decay_bits: int = _f(0, 32, "bit", doc="unsigned exponential-decay constant width; decay = d / 2**decay_bits (0 = "
                                           "no exponential decay)")
    leak_bits: int = _f(0, 32, "bit", doc="signed linear-leak width (0 = no linear leak)")
    threshold_bits: int = _f(1, 64, "bit", doc="unsigned threshold mantissa width")
    threshold_shift: int = _f(0, 32, "bit", doc="left shift applied to the threshold mantissa")
    activation_shift: int = _f(0, 32, "bit", doc="left shift applied to summed synaptic input")
    bias_mantissa_bits: int = _f(0, 64, "bit", doc="signed bias mantissa width")
    bias_exponent_bits: int = _f(0, 8, "bit", doc="unsigned bias exponent width; bias = mant * 2**exp")
    refractory_max: int = _f(0, 1 << 16, "step", doc="largest refractory period")


@dataclass(frozen=True)
class SynapseSpec:
    """Weight formats, delays, and fan-out rules of one synapse."""

    weight_bits_min: int = _f(1, 32, "bit", doc="smallest weight mantissa width")
    weight_bits_max: int = _f(1, 32, "bit", doc="largest weight mantissa width (sign included for mixed sign mode)")
    weight_exp_min: int = _f(-64, 64, "", doc="smallest shared weight exponent (base 2)")
    weight_exp_max: int = _f(-64, 64, "", doc="largest shared weight exponent (base 2)")
    sign_modes: tuple[str, ...] = _f(choices=("mixed", "excitatory", "inhibitory", "signed"),
                                     doc="weight sign modes; 'signed' = two's complement in weight_bits_max")
    delay_min: int = _f(0, 1 << 16, "step", doc="smallest synaptic delay (1 = next step)")
    delay_max: int = _f(0, 1 << 16, "step", doc="largest synaptic delay")
    axon_types: int = _f(0, 64, "", doc="input-axon types per core; a neuron has one weight per type (0 = per-synapse "
                                        "weights)")
    max_fan_out_cores: int = _f(0, 1 << 20, "core", doc="target cores one neuron may reach (0 = unlimited)")


@dataclass(frozen=True)
class CoreSpec:
    """Hard capacities of one core."""

    max_neurons: int = _f(1, 1 << 24, "neuron", doc="neurons (compartments) per core")
    max_input_axons: int = _f(1, 1 << 24, "axon", doc="input-axon slots per core")
    max_output_axons: int = _f(0, 1 << 24, "axon", doc="output-axon entries per core (one per neuron x target core; 0 "
                                                       "= unlimited)")
    plastic_axon_slots: int = _f(1, 8, "axon", doc="input-axon slots a plastic input axon occupies")
    memory_model: str = _f(choices=("nengo_loihi", "crossbar"),
                           doc="synapse-memory accounting: 'nengo_loihi' bit accounting or a dense 'crossbar'")
    synapse_memory_bits: int = _f(0, 1 << 40, "bit", doc="synapse memory per core (crossbar: max_input_axons x "
                                                         "max_neurons)")


@dataclass(frozen=True)
class SynapseMemorySpec:
    """nengo-loihi synapse-memory bit accounting.

    Per input axon with n synapses: the synapses are stored in groups of at most
    ``synapses_per_group``; each group costs ``n_g * (weight + delay + tag + index bits)
    + group_header_bits``, rounded up to whole ``word_bits`` words.
    """

    word_bits: int = _f(1, 4096, "bit", doc="memory word width; each group is rounded up to whole words")
    synapses_per_group: int = _f(1, 1 << 16, "synapse", doc="synapses per group (one header each)")
    group_header_bits: int = _f(0, 4096, "bit", doc="header bits per group")
    index_bits: tuple[int, ...] = _f(0, 32, "bit", doc="allowed target-index widths; the smallest >= ceil(log2(neurons "
                                                       "on core)) is used")
    weight_bits: tuple[int, ...] = _f(0, 32, "bit", doc="allowed stored weight widths; the smallest >= the "
                                                        "projection's bits is used")
    delay_bits: int = _f(0, 32, "bit", doc="delay field bits per synapse when any delay on the axon exceeds delay_min")
    tag_bits: int = _f(0, 32, "bit", doc="tag bits per synapse of a plastic projection")


@dataclass(frozen=True)
class LearningSpec:
    """On-chip learning engine widths (Lava's ``lava.magma.core.learning.constants``)."""

    enabled: bool = _f(doc="whether the cores run plasticity")
    weight_bits: int = _f(0, 32, "bit", doc="unsigned learned-weight width")
    tag_bits: int = _f(0, 32, "bit", doc="unsigned tag width (tag_1 and tag_2)")
    trace_bits: int = _f(0, 32, "bit", doc="trace width (x1, x2, y1, y2, y3)")
    trace_fraction_bits: int = _f(0, 32, "bit", doc="fractional bits of stochastic trace decay")
    constant_bits: int = _f(0, 32, "bit", doc="width of additive constants in rules")
    scale_mantissa_bits: int = _f(0, 32, "bit", doc="mantissa width of rule scaling factors")
    accumulator_bits: int = _f(0, 64, "bit", doc="unsigned width of the synaptic-change accumulator")
    epoch_time_bits: int = _f(0, 32, "bit", doc="width of the learning-epoch time")


@dataclass(frozen=True)
class MeshSpec:
    """Cores on a 2-D mesh: tiles of cores on a chip, chips on a board; XY routing throughout."""

    cores_per_tile: int = _f(1, 64, "core", doc="cores sharing one router (0 hops between them)")
    tiles_x: int = _f(1, 1 << 12, "tile", doc="tiles per chip along x (east-west)")
    tiles_y: int = _f(1, 1 << 12, "tile", doc="tiles per chip along y (north-south)")
    chips_x: int = _f(1, 1 << 12, "chip", doc="chips per board along x; the mesh continues across chips")
    chips_y: int = _f(1, 1 << 12, "chip", doc="chips per board along y")


@dataclass(frozen=True)
class EnergySpec:
    """Energy per event, picojoules (0 = not modelled for this target)."""

    synaptic_op_pj: float = _f(0, 1e9, "pJ", doc="one synaptic operation (one spike at one synapse)")
    tile_spike_pj: float = _f(0, 1e9, "pJ", doc="one packet delivered within its tile (0 hops)")
    hop_x_pj: float = _f(0, 1e9, "pJ", doc="one packet crossing one east-west link")
    hop_y_pj: float = _f(0, 1e9, "pJ", doc="one packet crossing one north-south link")
    neuron_update_inactive_pj: float = _f(0, 1e9, "pJ", doc="one neuron update without input")
    neuron_update_active_pj: float = _f(0, 1e9, "pJ", doc="one neuron update with input")
    plasticity_update_pj: float = _f(0, 1e9, "pJ", doc="one synaptic weight update (STDP)")


@dataclass(frozen=True)
class LatencySpec:
    """Time per event, nanoseconds (0 = not modelled)."""

    synaptic_op_ns: float = _f(0, 1e12, "ns", doc="one synaptic operation, serial within a core")
    tile_spike_ns: float = _f(0, 1e12, "ns", doc="packet delivered within its tile")
    hop_x_ns: float = _f(0, 1e12, "ns", doc="one east-west hop")
    hop_y_ns: float = _f(0, 1e12, "ns", doc="one north-south hop")
    neuron_update_inactive_ns: float = _f(0, 1e12, "ns", doc="one neuron update without input, serial within a core")
    neuron_update_active_ns: float = _f(0, 1e12, "ns", doc="one neuron update with input, serial within a core")
    plasticity_update_ns: float = _f(0, 1e12, "ns", doc="one synaptic weight update, serial within a core")
    barrier_sync_ns: float = _f(0, 1e12, "ns", doc="end-of-step synchronization")
    step_min_ns: float = _f(0, 1e15, "ns", doc="shortest step (a fixed tick, e.g. TrueNorth's 1 ms; 0 = none)")


@dataclass(frozen=True)
class Target:
    """One neuromorphic target: everything a pass needs to know about the hardware."""

    name: str = _f(doc="target name")
    description: str = _f(doc="one-line description and sources")
    schema_version: int = _f(1, 1, "", doc="schema version of the file (currently 1)")
    neuron: NeuronSpec = _f()
    synapse: SynapseSpec = _f()
    core: CoreSpec = _f()
    synapse_memory: SynapseMemorySpec = _f()
    learning: LearningSpec = _f()
    mesh: MeshSpec = _f()
    energy: EnergySpec = _f()
    latency: LatencySpec = _f()
    source: str | None = field(default=None, compare=False)  # file the target was loaded from

    @property
    def cores_per_chip(self) -> int:
        """Cores on one chip (tiles_x * tiles_y * cores_per_tile)."""
        m = self.mesh
        return m.tiles_x * m.tiles_y * m.cores_per_tile

    @property
    def n_cores(self) -> int:
        """Cores on the whole board."""
        return self.cores_per_chip * self.mesh.chips_x * self.mesh.chips_y

    @property
    def mesh_shape(self) -> tuple[int, int]:
        """Board-wide router grid (x, y) in tiles."""
        m = self.mesh
        return m.tiles_x * m.chips_x, m.tiles_y * m.chips_y


def list_targets() -> list[str]:
    """Names of the built-in targets (``neuromap/targets/*.toml``), sorted."""
    return sorted(p.stem for p in _DIR.glob("*.toml"))


def load_target(name_or_path: str | Path) -> Target:
    """Load a built-in target by name (``"loihi"``) or a user TOML file by path.

    Raises :class:`TargetError` (one line, naming file and field) on any problem.
    """
    s = str(name_or_path)
    if s in list_targets():
        path = _DIR / f"{s}.toml"
    else:
        path = Path(s)
        if not path.is_file():
            raise TargetError(f"{s}: no such target (use one of {', '.join(list_targets())} "
                              "or the path of a target TOML file)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise TargetError(f"{path}: not valid TOML: {e} (fix the syntax)") from None
    target = _build(Target, data, str(path), "")
    _check_consistency(target, str(path))
    return dataclasses.replace(target, source=str(path))


def target_to_dict(target: Target) -> dict[str, Any]:
    """The target as plain data (tuples as lists), e.g. to embed in an image; ``source`` dropped."""
    d = dataclasses.asdict(target)
    d.pop("source", None)

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        return v
    return plain(d)


def target_from_dict(data: dict[str, Any], origin: str = "<dict>") -> Target:
    """Inverse of :func:`target_to_dict`, with the same validation as :func:`load_target`."""
    target = _build(Target, data, origin, "")
    _check_consistency(target, origin)
    return target


def _err(file: str, fld: str, problem: str, fix: str) -> TargetError:
    return TargetError(f"{file}: {fld}: {problem} ({fix})")


def _build(cls: type, data: Any, file: str, prefix: str):
    """Build dataclass ``cls`` from a TOML table, checking keys, types and ranges."""
    where = prefix.rstrip(".") or "<top level>"
    if not isinstance(data, dict):
        raise _err(file, where, "expected a table", "see docs/targets.md")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.name != "source"]
    names = {f.name for f in fields}
    for key in data:
        if key not in names:
            raise _err(file, prefix + key, "unknown field",
                       f"remove it; fields of {where} are {', '.join(sorted(names))}")
    values = {}
    for f in fields:
        fld = prefix + f.name
        if f.name not in data:
            raise _err(file, fld, "missing field", "add it; see docs/targets.md")
        values[f.name] = _value(hints[f.name], f.metadata, data[f.name], file, fld)
    return cls(**values)


def _value(tp: Any, meta: Any, v: Any, file: str, fld: str):
    if dataclasses.is_dataclass(tp):
        return _build(tp, v, file, fld + ".")
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if typing.get_origin(tp) is tuple:
        elem = typing.get_args(tp)[0]
        if not isinstance(v, list):
            raise _err(file, fld, f"expected a list of {elem.__name__}, got {v!r}", "write e.g. [1, 2]")
        return tuple(_scalar(elem, lo, hi, choices, x, file, f"{fld}[{i}]") for i, x in enumerate(v))
    return _scalar(tp, lo, hi, choices, v, file, fld)


def _scalar(tp: type, lo, hi, choices, v: Any, file: str, fld: str):
    if tp is bool:
        ok = isinstance(v, bool)
    elif tp is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif tp is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        v = float(v) if ok else v
    else:
        ok = isinstance(v, str)
    if not ok:
        raise _err(file, fld, f"expected {tp.__name__}, got {v!r}", f"write a {tp.__name__}")
    if choices is not None and v not in choices:
        raise _err(file, fld, f"{v!r} is not allowed", f"use one of {', '.join(choices)}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _err(file, fld, f"{v} out of range", f"use a value in [{lo}, {hi}]")
    return v


def _check_consistency(t: Target, file: str) -> None:
    """Cross-field rules (ranges that depend on other fields)."""
    s, c, m = t.synapse, t.core, t.synapse_memory
    pairs = [("synapse.weight_bits_max", s.weight_bits_max, "synapse.weight_bits_min", s.weight_bits_min),
             ("synapse.weight_exp_max", s.weight_exp_max, "synapse.weight_exp_min", s.weight_exp_min),
             ("synapse.delay_max", s.delay_max, "synapse.delay_min", s.delay_min)]
    for hi_name, hi, lo_name, lo in pairs:
        if hi < lo:
            raise _err(file, hi_name, f"{hi} is below {lo_name} = {lo}", f"make it >= {lo}")
    if not s.sign_modes:
        raise _err(file, "synapse.sign_modes", "empty list", "name at least one sign mode")
    if not t.neuron.models:
        raise _err(file, "neuron.models", "empty list", "name at least one neuron model")
    for name, seq in (("synapse_memory.index_bits", m.index_bits), ("synapse_memory.weight_bits", m.weight_bits)):
        if not seq or list(seq) != sorted(set(seq)):
            raise _err(file, name, f"{list(seq)} is not a non-empty increasing list", "sort it, no repeats")
    if c.memory_model == "nengo_loihi":
        if m.weight_bits[-1] < s.weight_bits_max:
            raise _err(file, "synapse_memory.weight_bits", f"largest entry {m.weight_bits[-1]} < "
                       f"synapse.weight_bits_max = {s.weight_bits_max}", "add a wide enough entry")
        if (1 << m.index_bits[-1]) < c.max_neurons:
            raise _err(file, "synapse_memory.index_bits", f"largest entry {m.index_bits[-1]} cannot index "
                       f"core.max_neurons = {c.max_neurons}", "add a wide enough entry")
        if c.synapse_memory_bits == 0:
            raise _err(file, "core.synapse_memory_bits", "0 with memory_model nengo_loihi", "give the size in bits")
    if t.learning.enabled and t.learning.weight_bits == 0:
        raise _err(file, "learning.weight_bits", "0 while learning.enabled", "give the learned-weight width")
