"""Parameter schemas: names, defaults, types and ranges of model and rule parameters.

Every neuron model and plasticity rule declares ``PARAMS: dict[str, Param]``.
:func:`validate_params` fills defaults and rejects unknown, missing,
out-of-range or non-finite values with a one-line :class:`NetworkFormatError`
naming the field path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromap.errors import NetworkFormatError

REQUIRED = object()  # sentinel: the parameter has no default


@dataclass(frozen=True)
class Param:
    """One parameter.

    kind: ``"float"`` | ``"int"`` | ``"bool"`` | ``"str"``.
    lo/hi: inclusive bounds (None = open). choices: allowed values for ``str``.
    per_neuron: a list/array of length ``size`` is accepted as well as a scalar.
    unit: documentation only (``"ms"``, ``"mV"``, ``"Hz"``, ``"hw"`` ...).
    """

    default: Any = REQUIRED
    kind: str = "float"
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    per_neuron: bool = False
    unit: str = ""
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        """Human-readable allowed range, used in error messages and docs."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        kind = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string"}[self.kind]
        if self.lo is not None and self.hi is not None:
            return f"{kind} in [{self.lo}, {self.hi}]"
        if self.lo is not None:
            return f"{kind} >= {self.lo}"
        if self.hi is not None:
            return f"{kind} <= {self.hi}"
        return kind


def _check_scalar(name: str, p: Param, v: Any, field: str) -> Any:
    if p.kind == "bool":
        if not isinstance(v, (bool, np.bool_)):
            raise NetworkFormatError(f"{v!r} is not {p.describe()}", field=field)
        return bool(v)
    if p.kind == "str":
        if not isinstance(v, str) or (p.choices and v not in p.choices):
            raise NetworkFormatError(f"{v!r} is not allowed", field=field, fix=f"use {p.describe()}")
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise NetworkFormatError(f"{v!r} is not {p.describe()}", field=field)
    if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
        raise NetworkFormatError(f"{v!r} is not finite", field=field, fix=f"use {p.describe()}")
    if p.kind == "int":
        if float(v) != int(v):
            raise NetworkFormatError(f"{v!r} is not an integer", field=field, fix=f"use {p.describe()}")
        v = int(v)
    else:
        v = float(v)
    if (p.lo is not None and v < p.lo) or (p.hi is not None and v > p.hi):
        raise NetworkFormatError(f"{v!r} is out of range", field=field, fix=f"use {p.describe()}")
    return v


def _check_numeric_array(name: str, p: Param, arr: np.ndarray, field: str) -> np.ndarray:
    """:func:`_check_scalar` over a numeric array at once (O(n) numpy); the first bad entry gets the
    scalar check's error message."""
    a = arr.astype(np.float64) if arr.dtype.kind == "f" else arr
    bad = np.zeros(arr.shape, bool)
    if a.dtype.kind == "f":
        bad |= ~np.isfinite(a)
        if p.kind == "int":
            bad |= np.isfinite(a) & (a != np.trunc(np.where(np.isfinite(a), a, 0)))
    ok = ~bad
    if p.lo is not None:
        bad |= ok & (a < p.lo)
    if p.hi is not None:
        bad |= ok & (a > p.hi)
    if bad.any():
        i = int(np.argmax(bad))
        _check_scalar(name, p, arr[i].item(), f"{field}[{i}]")   # raises with the scalar message
    return arr.astype(np.int64 if p.kind == "int" else np.float64)


def check_value(name: str, p: Param, v: Any, field: str, size: int | None = None) -> Any:
    """Validate one value (scalar, or per-neuron list/array when ``p.per_neuron``)."""
    if p.per_neuron and isinstance(v, (list, tuple, np.ndarray)):
        arr = np.asarray(v)
        if arr.ndim != 1 or (size is not None and arr.shape[0] != size):
            raise NetworkFormatError(
                f"per-neuron list has shape {arr.shape}", field=field,
                fix=f"give a scalar or a list of length {size}")
        if p.kind in ("int", "float") and arr.dtype.kind in "iuf":
            return _check_numeric_array(name, p, arr, field)
        out = [_check_scalar(name, p, x.item() if hasattr(x, "item") else x, f"{field}[{i}]")
               for i, x in enumerate(arr)]
        return np.asarray(out, dtype=np.int64 if p.kind == "int" else np.float64)
    return _check_scalar(name, p, v, field)


def validate_params(schema: dict[str, Param], given: dict[str, Any], field: str,
                    size: int | None = None, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return ``given`` checked against ``schema`` with defaults filled in.

    ``field`` is the path of the dict in the file (``populations.out.neuron``);
    keys in ``ignore`` (e.g. ``model``, ``rule``) are passed through unchecked.
    """
    unknown = [k for k in given if k not in schema and k not in ignore]
    if unknown:
        raise NetworkFormatError(
            f"unknown parameter {unknown[0]!r}", field=f"{field}.{unknown[0]}",
            fix="allowed: " + ", ".join(sorted(schema)) if schema else "this takes no parameters")
    out = {k: given[k] for k in ignore if k in given}
    for name, p in schema.items():
        if name in given:
            out[name] = check_value(name, p, given[name], f"{field}.{name}", size)
        elif p.required:
            raise NetworkFormatError(f"missing required parameter {name!r}", field=f"{field}.{name}",
                                     fix=f"add {name}: {p.describe()}")
        else:
            out[name] = p.default
    return out
