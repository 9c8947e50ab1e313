"""Embedded-core controllers: small programs that run beside the neuron cores (Loihi's embedded x86 cores, "SNIPs").

Contract layer. A controller is bound to one plastic projection of an image and runs every ``period`` steps,
*between* steps: at the start of step ``t`` with ``t % period == 0`` (t 0-based) it reads the declared state of the
projection's learning engine (as the state is after step ``t - 1``), computes in integers, and writes the declared
parameters, which the step ``t`` then uses. Everything it computes is in the image (its fixed-point parameters and
initial state) and in the documented program of its kind, so a run is deterministic and any runtime reproduces it.

The image's optional ``controllers`` section (docs/image-format.md, *Controllers*) holds one
:class:`ControllerMap` per controller: its ``kind`` (a module registered in :data:`KINDS`), the projection, the
period, the integer ``fields`` and the ``arrays`` (saved as ``ctl.<i>.<name>``). A kind module declares:

- ``KIND`` (str), ``ENGINE`` (the learning engine it reads and writes), ``READS`` / ``WRITES`` (names of the
  engine's per-post state it reads / writes), ``FIELDS`` (field name -> (lo, hi, doc)), optionally
  ``OPTIONAL_FIELDS`` (the same, fields an image may omit), ``ARRAYS`` (array name -> (dtype, doc));
- ``check(ctl, n_post, where)``: array shapes against the fields (one-line :class:`ImageError`);
- ``make_state(ctl, n_post)`` and ``decide(ctl, state, reads) -> writes``: the program (one implementation; the
  scalar oracle of the tests is written apart from it);
- ``describe(ctl) -> dict``: what ``inspect`` shows (sizes, cost per decision).

Kinds: ``esn_q`` (:mod:`neuromap.embedded.esn_q`, seed 000's echo-state-network Q-learner setting ``pool_stdp``'s
per-neuron secretion).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuromap.embedded import esn_q
from neuromap.errors import ImageError

#: controller kinds by name
KINDS = {esn_q.KIND: esn_q}


@dataclass
class ControllerMap:
    """One entry of an image's ``controllers`` section: program ``kind`` on projection ``projection`` every
    ``period`` steps, with integer ``fields`` and ``arrays`` (the kind module's declarations)."""

    kind: str
    projection: int
    period: int
    fields: dict[str, int]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {"kind": self.kind, "projection": int(self.projection), "period": int(self.period),
                "fields": {k: int(v) for k, v in self.fields.items()}}

    @staticmethod
    def from_manifest(d: dict[str, Any], arrays: dict[str, np.ndarray]) -> "ControllerMap":
        bad = [k for k, v in d["fields"].items() if not isinstance(v, int) or isinstance(v, bool)]
        if bad:
            raise ImageError(f"image controller of projection {d['projection']}: field {bad[0]!r} is not an integer "
                             "(recompile)")
        return ControllerMap(str(d["kind"]), int(d["projection"]), int(d["period"]), dict(d["fields"]), dict(arrays))

    @property
    def module(self):
        return KINDS[self.kind]

    def due(self, t: int) -> bool:
        """Whether it decides at the start of step ``t`` (0-based): ``t % period == 0``."""
        return t % self.period == 0

    def decide_into(self, state, engine_state) -> None:
        """One decision: read the kind's ``READS`` from ``engine_state`` (the projection's learning-engine
        state), run ``decide`` with the controller's run-time ``state``, write the ``WRITES`` into
        ``engine_state`` in place (every runtime calls this, so they read and write alike)."""
        mod = self.module
        reads = {k: getattr(engine_state, k) for k in mod.READS}
        for k, v in mod.decide(self, state, reads).items():
            getattr(engine_state, k)[:] = v


def verify(image: Any) -> None:
    """The ``controllers`` section against the rest of the image: a known kind, a plastic projection of the kind's
    engine (one controller per projection), the period, every declared field in range and every declared array
    with its dtype and shape. One-line :class:`ImageError`."""
    seen = set()
    for i, c in enumerate(image.controllers):
        where = f"image controller {i}"
        if c.kind not in KINDS:
            raise ImageError(f"{where}: unknown kind {c.kind!r} (this neuromap runs {', '.join(KINDS)}; recompile)")
        mod = KINDS[c.kind]
        if not 0 <= c.projection < len(image.projections):
            raise ImageError(f"{where}: projection {c.projection} is not a projection index (recompile)")
        if c.projection in seen:
            raise ImageError(f"{where}: projection {c.projection} has two controllers (recompile)")
        seen.add(c.projection)
        pm = image.projections[c.projection]
        engine = (pm.learning or {}).get("engine")
        if engine != mod.ENGINE:
            raise ImageError(f"{where}: projection {c.projection} learns with {engine!r}, not {mod.ENGINE!r} "
                             "(recompile)")
        if not 1 <= c.period <= 2 ** 31 - 1:
            raise ImageError(f"{where}: period {c.period} is not in [1, 2**31 - 1] (recompile)")
        optional = getattr(mod, "OPTIONAL_FIELDS", {})
        missing = sorted(set(mod.FIELDS) - set(c.fields))
        extra = sorted(set(c.fields) - set(mod.FIELDS) - set(optional))
        if missing or extra:
            raise ImageError(f"{where}: fields {missing or extra} {'missing' if missing else 'unknown'} (recompile)")
        for k, (lo, hi, _) in {**mod.FIELDS, **optional}.items():
            if k in c.fields and not lo <= c.fields[k] <= hi:
                raise ImageError(f"{where}: field {k} = {c.fields[k]} outside [{lo}, {hi}] (recompile)")
        missing = sorted(set(mod.ARRAYS) - set(c.arrays))
        extra = sorted(set(c.arrays) - set(mod.ARRAYS))
        if missing or extra:
            raise ImageError(f"{where}: arrays {missing or extra} {'missing' if missing else 'unknown'} (recompile)")
        for k, (dtype, _) in mod.ARRAYS.items():
            if c.arrays[k].dtype != np.dtype(dtype):
                raise ImageError(f"{where}: array {k} is {c.arrays[k].dtype}, not {np.dtype(dtype)} (recompile)")
        mod.check(c, image.population(pm.post).size, where)


def summary(image: Any) -> list[dict[str, Any]]:
    """One JSON-serializable dict per controller of ``image`` (``inspect``, docs/json.md)."""
    out = []
    for c in image.controllers:
        mod = KINDS[c.kind]
        out.append({"kind": c.kind, "projection": c.projection, "projection_name": image.projections[c.projection].name,
                    "period": c.period, "reads": list(mod.READS), "writes": list(mod.WRITES), **mod.describe(c)})
    return out


def summary_line(d: dict[str, Any]) -> str:
    """One text line of a :func:`summary` entry."""
    rest = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items()
                     if k not in ("kind", "projection", "projection_name", "period", "reads", "writes"))
    return (f"  {d['kind']} on projection {d['projection']} ({d['projection_name']}) every {d['period']} steps: "
            f"reads {', '.join(d['reads'])}; writes {', '.join(d['writes'])}; {rest}")
