"""Typed image schemas of the learning engines: declared fields, their integer ranges, and the dict round trip.

An engine's image schema is a frozen dataclass (keyword-only) whose fields are declared with
:func:`int_field`, :func:`bool_field`, :func:`enum_field` or :func:`const_field`; each carries its range
and a one-line description (units, fraction bits) in ``dataclasses.field`` metadata. :class:`Schema` gives
every such class

- ``from_dict(d, where)``: the image's ``ProjectionMap.learning`` dict -> a schema instance; any missing,
  unknown, mistyped or out-of-range field raises a one-line :class:`~neuromap.errors.ImageError`
  naming ``where`` and the field;
- ``to_dict()``: the dict back, keys in declaration order, optional fields left out when ``None`` (the
  image's on-disk format: the same keys and values the compiler has always written);
- ``check()``: an engine's cross-field rules (e.g. ``window`` present exactly when ``homeostasis``),
  run by ``from_dict``;
- :func:`describe`: the rows of the field table in ``docs/image-format.md`` (a test keeps them equal).

Integer fields hold exact Python ints; bounds are inclusive.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from neuromap.errors import ImageError


def int_field(lo: int, hi: int, doc: str, *, optional: bool = False):
    """An integer field in ``[lo, hi]`` (``optional``: may be absent, then ``None``)."""
    return dataclasses.field(default=None if optional else dataclasses.MISSING,
                             metadata={"kind": "int", "lo": lo, "hi": hi, "doc": doc, "optional": optional})


def bool_field(doc: str):
    """A JSON boolean field."""
    return dataclasses.field(metadata={"kind": "bool", "doc": doc, "optional": False})


def enum_field(choices: tuple[str, ...], doc: str):
    """A string field, one of ``choices`` (default: the first)."""
    return dataclasses.field(default=choices[0],
                             metadata={"kind": "enum", "choices": tuple(choices), "doc": doc, "optional": False})


def const_field(value: int, doc: str):
    """An integer field that must equal ``value`` (a fixed-point width recorded in the image)."""
    return dataclasses.field(default=value, metadata={"kind": "const", "value": value, "doc": doc,
                                                      "optional": False})


def _int_text(v: int) -> str:
    """``v`` as written in the docs: powers of two (and one less) from 2^20 on as ``2^k``, ``2^k-1``."""
    m = abs(v)
    for k, text in ((m.bit_length() - 1, "2^{}"), (m.bit_length(), "2^{}-1")):
        if m >= 1 << 20 and (m == 1 << k if text == "2^{}" else m == (1 << k) - 1):
            return ("-" if v < 0 else "") + text.format(k)
    return str(v)


def _range_text(meta: dict) -> str:
    kind = meta["kind"]
    if kind == "int":
        return f"int {_int_text(meta['lo'])}..{_int_text(meta['hi'])}"
    if kind == "bool":
        return "bool"
    if kind == "const":
        return f"int = {meta['value']}"
    return " \\| ".join(f"`{c}`" for c in meta["choices"])


class Schema:
    """Base of the engines' schema dataclasses (see the module docstring)."""

    #: the image engine name (``learning["engine"]``)
    ENGINE: ClassVar[str] = ""

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field, ...]:
        return dataclasses.fields(cls)

    @classmethod
    def from_dict(cls, d: Any, where: str = "image learning", fill_defaults: bool = False):
        """The schema of image dict ``d`` (strict); ``fill_defaults``: fields with a default (the engine and
        rule names, the recorded widths) may be absent (hand-written configurations in tests)."""
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ImageError(f"{where}: learning must be a dict naming its engine")
        names = {f.name for f in cls.fields()}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ImageError(f"{where}: learning field {unknown[0]!r} is unknown to the {cls.ENGINE} engine "
                             f"(it has {', '.join(sorted(names))}; recompile)")
        values = {}
        for f in cls.fields():
            meta = f.metadata
            if f.name not in d:
                if meta["optional"] or (fill_defaults and f.default is not dataclasses.MISSING):
                    continue
                raise ImageError(f"{where}: {cls.ENGINE} learning has no {f.name!r} ({meta['doc']}; recompile)")
            values[f.name] = _checked(d[f.name], f.name, meta, where, cls.ENGINE)
        obj = cls(**values)
        obj.check(where)
        return obj

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields():
            v = getattr(self, f.name)
            if v is None and f.metadata["optional"]:
                continue
            out[f.name] = v
        return out

    def check(self, where: str) -> None:
        """Cross-field rules of the engine (override); raise a one-line ImageError."""

    def fail(self, where: str, problem: str) -> None:
        raise ImageError(f"{where}: {self.ENGINE} learning {problem} (recompile)")


def _checked(v: Any, name: str, meta: dict, where: str, engine: str):
    kind = meta["kind"]
    if kind == "bool":
        if not isinstance(v, bool):
            raise ImageError(f"{where}: {engine} learning {name} {v!r} is not true/false (recompile)")
        return v
    if kind == "enum":
        if v not in meta["choices"]:
            raise ImageError(f"{where}: {engine} learning {name} {v!r} is not one of "
                             f"{', '.join(meta['choices'])} (recompile)")
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise ImageError(f"{where}: {engine} learning {name} {v!r} is not an integer (recompile)")
    if kind == "const":
        if v != meta["value"]:
            raise ImageError(f"{where}: {engine} learning {name} {v} differs from this engine's {meta['value']} "
                             "(image from another version; recompile)")
        return v
    if not meta["lo"] <= v <= meta["hi"]:
        raise ImageError(f"{where}: {engine} learning {name} {v} is outside [{meta['lo']}, {meta['hi']}] "
                         f"({meta['doc']}; recompile)")
    return v


def describe(cls) -> list[tuple[str, str, str]]:
    """(field, range, description) per field of schema class ``cls``, in declaration order."""
    rows = []
    for f in cls.fields():
        meta = f.metadata
        doc = meta["doc"] + (" (optional)" if meta["optional"] else "")
        rows.append((f.name, _range_text(meta), doc))
    return rows


class Quantized:
    """What an engine's ``quantize`` builds: integer fields (in the image's key order) with each one's
    relative rounding error, and compiler tables with their largest relative error (compile time only;
    Python ``round``, half to even)."""

    def __init__(self, fields: dict[str, Any] | None = None, errors: dict[str, float] | None = None):
        self.fields: dict[str, Any] = dict(fields or {})
        self.errors: dict[str, float] = dict(errors or {})
        self.tables: dict[str, Any] = {}
        self.table_errors: dict[str, float] = {}
        #: entries the engine adds to its projection's quantization report (``w_range`` replaces the default
        #: ``[w_lo, w_hi]``)
        self.report: dict[str, Any] = {}

    def put(self, name: str, value: float, unit: float, lo: int | None = None) -> int:
        """``round(value * unit)`` (at least ``lo``) as field ``name``; records its relative error."""
        q = int(round(value * unit))
        if lo is not None:
            q = max(q, lo)
        self.fields[name] = q
        self.errors[name] = abs(q / unit - value) / abs(value) if value else float(q != 0)
        return q

    def table(self, name: str, exact, unit: float):
        """``rint(exact * unit)`` as int64 table ``name``; records its largest error relative to max |exact|."""
        q = np.rint(exact * unit).astype(np.int64)
        self.tables[name] = q
        top = float(np.max(np.abs(exact))) or 1.0
        self.table_errors[name] = float(np.max(np.abs(q / unit - exact)) / top)
        return q


@dataclasses.dataclass(frozen=True)
class QuantizeContext:
    """Plain numbers an engine's ``quantize`` needs besides the float rule parameters.

    ``ws``: weight mantissas per float weight unit (the projection's weight scale); ``dt``: time step (ms);
    ``where``: the network field for error messages (``projections[k]``); ``max_fan_in``: most synapses
    onto one post neuron; ``sign`` (+1 excitatory, -1 inhibitory), ``delay`` (steps, one per plastic
    projection) and ``field_max`` (largest stored weight magnitude); voltage rules: ``v_scale`` (hardware v units
    per float voltage unit), ``v_reset`` (float) and ``v_max`` (largest hardware v) of the post
    population, ``None`` when the post has no voltage scale."""

    ws: float
    dt: float
    where: str
    max_fan_in: int = 0
    sign: int = 1
    delay: int = 1
    field_max: int = 255
    v_scale: float | None = None
    v_reset: float | None = None
    v_max: int | None = None


#: fields every seed-rule engine writes after its own (fixed-point widths recorded in the image)
TAIL = ("wf", "af", "xf")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SeedRuleSchema(Schema):
    """Fields every integer seed-rule engine has (``emulator``'s fine weights: ``mantissa * 2**16``)."""

    engine: str = enum_field(("",), "engine name")
    rule: str = enum_field(("",), "float rule the compiler converted")
    sign: int = int_field(-1, 1, "+1 excitatory, -1 inhibitory: the engine learns sign * weight")
    delay: int = int_field(0, 64, "steps from a pre spike's emission to its arrival at the synapses")
    w_lo: int = int_field(0, 255, "lower clip of the learned magnitude, weight mantissa units")
    w_hi: int = int_field(0, 255, "upper clip of the learned magnitude, weight mantissa units")
    wf: int = const_field(16, "WF: fraction bits of the fine weights")
    af: int = const_field(16, "AF: fraction bits of dimensionless coefficients")
    xf: int = const_field(12, "XF: fraction bits of spike traces")

    #: learning array name -> description (subclasses)
    ARRAYS: ClassVar[dict[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        return {**{k: v for k, v in d.items() if k not in TAIL}, **{k: d[k] for k in TAIL}}

    def check(self, where: str) -> None:
        if self.sign not in (-1, 1):
            self.fail(where, f"sign {self.sign} is not +1 or -1")
        if self.w_lo > self.w_hi:
            self.fail(where, f"w_lo {self.w_lo} exceeds w_hi {self.w_hi}")

    def check_arrays(self, arrays: dict, n_syn: int, where: str) -> None:
        """The image's ``learning_arrays`` are exactly this engine's tables (1-D int, non-empty)."""
        want = self.array_names()
        for name in sorted(set(arrays) | set(want)):
            if name not in want:
                raise ImageError(f"{where}: learning array {name!r} is unknown to the {self.ENGINE} engine "
                                 f"(it has {', '.join(want) or 'none'}; recompile)")
            a = arrays.get(name)
            if a is None:
                raise ImageError(f"{where}: {self.ENGINE} learning needs array {name!r} "
                                 f"({self.ARRAYS[name]}; recompile)")
            if a.ndim != 1 or a.size < 2 or a.dtype.kind not in "iu":
                raise ImageError(f"{where}: {self.ENGINE} learning array {name!r} must be a 1-D integer table "
                                 f"of at least 2 entries, got {a.dtype} {a.shape} (recompile)")

    def array_names(self) -> tuple[str, ...]:
        """The learning arrays this configuration needs (override when some are conditional)."""
        return tuple(self.ARRAYS)
