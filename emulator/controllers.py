"""Embedded-core controllers of an image (:mod:`neuromap.embedded`) run by the emulator between steps.

At the start of step ``t`` with ``t % period == 0`` each controller reads its declared per-post state from its
projection's learning-engine state (as the state is after step ``t - 1``), runs its kind's program
(``decide``, the one implementation, in :mod:`neuromap.embedded`) and writes the declared parameters into that
state, in image order; the step's learning then uses them. The engine states are the per-step path's
(:func:`emulator.plastic.emulate_plastic`; the one-projection kernel groups view the state arrays, so a write is
seen by the kernel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromap.embedded import ControllerMap
from neuromap.errors import ImageError


@dataclass
class RunningController:
    """One image controller bound to its plastic projection's engine state; ``decisions``: the steps it ran at."""

    ctl: ControllerMap
    engine_state: object
    state: object
    decisions: int = 0


def bind(image, projs) -> list[RunningController]:
    """The image's controllers, each bound to the engine state of its projection among ``projs``
    (:func:`emulator.plastic.plastic_projections`)."""
    by_index = {pp.index: pp for pp in projs}
    out = []
    for i, c in enumerate(image.controllers):
        pp = by_index.get(c.projection)
        if pp is None:
            raise ImageError(f"image controller {i}: projection {c.projection} does not learn (recompile)")
        n_post = pp.post_ids.size
        for k in (*c.module.READS, *c.module.WRITES):
            a = getattr(pp.state, k, None)
            if not isinstance(a, np.ndarray) or a.shape != (n_post,):
                raise ImageError(f"image controller {i}: engine {c.module.ENGINE!r} has no per-post state {k!r}")
        out.append(RunningController(c, pp.state, c.module.make_state(c, n_post)))
    return out


def run_due(ctls: list[RunningController], t: int) -> None:
    """The decisions due at the start of step ``t`` (0-based), in image order."""
    for rc in ctls:
        if rc.ctl.due(t):
            rc.ctl.decide_into(rc.state, rc.engine_state)
            rc.decisions += 1
