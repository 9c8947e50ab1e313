"""Typed declarations of image arrays and the range checks every verifier shares.

A :class:`Field` names one array of an image group (``neurons.tn_alpha``), its dtype, its extra
dimensions and its inclusive integer range; core-kind modules (:mod:`neuromap.core_kinds.loihi_lif`,
:mod:`neuromap.core_kinds.truenorth`) declare theirs with it, ``docs/image-format.md``'s tables are generated
from them (:mod:`neuromap.core_kinds.doc`; ``tests/image/test_core_kinds.py`` fails when the two disagree) and
the verifiers check them.
Imports numpy and :mod:`neuromap.errors` only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neuromap.errors import ImageError


@dataclass(frozen=True)
class Field:
    """One image array: ``group.name`` (e.g. ``neurons.tn_s``) of ``dtype``, shape ``(length,) + extra``
    (``length`` = the group's length: N neurons, A axons ...), values in ``[lo, hi]`` (None: the dtype's
    own bound). ``optional``: an image may omit it. ``doc``: what it means, with its unit."""

    group: str
    name: str
    dtype: type
    lo: int | None = None
    hi: int | None = None
    extra: tuple[int, ...] = ()
    optional: bool = False
    doc: str = ""

    @property
    def key(self) -> str:
        """Archive name (``neurons.tn_s``)."""
        return f"{self.group}.{self.name}"

    def bounds(self) -> tuple[int, int]:
        """Inclusive range with the dtype's bounds filled in."""
        info = np.iinfo(self.dtype)
        return (int(info.min) if self.lo is None else self.lo, int(info.max) if self.hi is None else self.hi)

    def check(self, arrays: dict[str, np.ndarray], length: int, missing: str) -> None:
        """Dtype, shape and range of this field in ``arrays`` (one image group); ``missing``: the fix
        named when a required field is absent."""
        a = arrays.get(self.name)
        if a is None:
            if self.optional:
                return
            raise ImageError(f"image array {self.key} is missing ({missing})")
        shape = (length,) + self.extra
        if not isinstance(a, np.ndarray) or a.dtype != self.dtype or a.shape != shape:
            raise ImageError(f"image array {self.key} must be {np.dtype(self.dtype).name} of shape {shape}, "
                             f"got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}")
        lo, hi = self.bounds()
        check_range(a.reshape(-1), lo, hi, self.key)


def check_range(a: np.ndarray, lo: int, hi: int | None, name: str) -> None:
    """One-line :class:`ImageError` naming ``name`` and the first value of ``a`` outside ``[lo, hi]``
    (``hi`` None: no upper bound). min/max first: no mask is built unless a value is out of range."""
    if a.size and (a.min() < lo or (hi is not None and a.max() > hi)):
        bad = a[(a < lo) | (a > hi)][0] if hi is not None else a[a < lo][0]
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ImageError(f"image array {name} holds {bad}, outside {rng}")


def check_length(a: np.ndarray, n: int, name: str) -> None:
    """One-line :class:`ImageError` unless ``a`` has ``n`` rows."""
    if a.shape[0] != n:
        raise ImageError(f"image array {name} has length {a.shape[0]}, expected {n}")


def group_length(image: Any, group: str) -> int:
    """Rows of an image group (N neurons, A axons, S synapses, C cores)."""
    return {"neurons": image.n_neurons, "axons": image.n_axons, "synapses": image.n_synapses,
            "cores": image.n_cores}[group]
