"""User-given spike rates for the traffic model (``neuromap compile --rates FILE``).

File format (YAML ``.yaml``/``.yml`` or JSON ``.json``)::

    unit: hz            # hz (spikes per second, converted with the network's dt in ms)
                        # or per_step (spikes per time step); default per_step
    default: 1.0        # optional: rate of every population not listed (else listing all is required)
    rates:
      E: 5.0            # one rate for every neuron of the population
      I: [8.0, 7.5, ...]  # or one rate per neuron (length = population size)
      ext: ext_rates.npy  # or a .npy file (path relative to the rates file) with one rate per neuron

or a ``.npy`` file holding one rate per neuron for all populations in network order
(inputs included), in spikes per step. Rates must be finite and >= 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuromap.errors import NetworkFormatError
from neuromap.image_files import load_numpy_file
from neuromap.io import read_document

UNITS = ("per_step", "hz")


def load_rates(path, populations: dict[str, int], dt_ms: float) -> np.ndarray:
    """Spikes per step of every neuron (populations in the order of ``populations``: name -> size)."""
    path = Path(path)
    f = str(path)
    n = sum(populations.values())
    if not path.is_file():
        raise NetworkFormatError("file not found", file=f, fix="give uniform, auto or an existing rates file")
    if path.suffix == ".npy":
        arrays = load_numpy_file(path, "the rates file", 8 * n + 4096,   # headers checked before allocation
                                 lambda problem: NetworkFormatError(problem, file=f,
                                                                    fix="give an .npy array of one rate per neuron"))
        return _check(arrays["*"], n, f, "(array)")
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise NetworkFormatError(f"unknown suffix {path.suffix!r}", file=f, fix="use .yaml, .yml, .json or .npy")
    try:
        doc = read_document(path, "the rates file")
    except NetworkFormatError as e:
        where = f"{e.field}: " if e.field else ""
        raise NetworkFormatError(f"cannot parse: {where}{e.problem}", file=f, fix="fix the syntax") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rates"), dict):
        raise NetworkFormatError("missing mapping 'rates'", file=f, field="rates",
                                 fix="write rates: {POPULATION: RATE or [RATE per neuron]}")
    unit = doc.get("unit", "per_step")
    if unit not in UNITS:
        raise NetworkFormatError(f"unknown unit {unit!r}", file=f, field="unit", fix="use hz or per_step")
    unknown = sorted(set(doc["rates"]) - set(populations))
    if unknown:
        raise NetworkFormatError(f"no population {unknown[0]!r} in the network", file=f,
                                 field=f"rates.{unknown[0]}", fix=f"use one of {', '.join(populations)}")
    out = []
    for name, size in populations.items():
        field = f"rates.{name}"
        v = doc["rates"].get(name, doc.get("default"))
        if v is None:
            raise NetworkFormatError("population has no rate", file=f, field=field,
                                     fix="list it under rates or give a default")
        if isinstance(v, str):
            v = np.load(path.parent / v, allow_pickle=False) if (path.parent / v).is_file() else None
            if v is None:
                raise NetworkFormatError("rate file not found", file=f, field=field, fix="give a .npy path")
        if isinstance(v, bool):
            raise NetworkFormatError("rate must be a number", file=f, field=field, fix="give a number >= 0")
        arr = np.asarray(v, float) if not isinstance(v, np.ndarray) else v.astype(float)
        if arr.ndim == 0:
            arr = np.full(size, float(arr))
        out.append(_check(arr, size, f, field))
    rates = np.concatenate(out) if out else np.zeros(0)
    return rates * dt_ms * 1e-3 if unit == "hz" else rates


def _check(arr, size: int, f: str, field: str) -> np.ndarray:
    arr = np.asarray(arr, float)
    if arr.shape != (size,):
        raise NetworkFormatError(f"has shape {arr.shape}, expected ({size},)", file=f, field=field,
                                 fix="give one rate or one per neuron")
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise NetworkFormatError("rates must be finite and >= 0", file=f, field=field, fix="fix the values")
    return arr
