"""Run a TrueNorth image (core kind ``truenorth``) in Lava 0.10.0 (``Loihi2SimCfg(select_tag="fixed_pt")``).

The image's cores become :class:`backends.lava.procs.truenorth.TrueNorthCore` processes (the
custom process with a ``fixed_pt`` model; routes are Lava ``DelaySparse`` connections), through
:func:`emulator.tn_image.cores_from_image`; host inputs are the same ``(tick, core, axon)``
activations the emulator injects (:func:`emulator.tn_image.host_inputs`). Output: the
:class:`~backends.emulator.Results` of :func:`backends.lava.results.to_results` (V of probed neurons in
the ``v`` traces, ``u`` all zeros as on the emulator).
"""
from __future__ import annotations

import numpy as np

from backends.emulator import Results
from backends.lava.results import LavaRaw, to_results
from emulator.tn_image import cores_from_image, dense_from_result, host_inputs, v_probe
from emulator.truenorth import TNResult
from neuromap.errors import ImageError
from neuromap.image import Image


def run_truenorth_image(image: Image, steps: int) -> Results:
    """Run ``image`` (TrueNorth cores) in Lava for ``steps`` ticks; same Results layout as the emulator."""
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    cores, layout = cores_from_image(image)
    probe = v_probe(image)
    if steps == 0 or not cores:
        res = TNResult([np.zeros((steps, c.n_neurons), bool) for c in cores],
                       [np.zeros((steps, c.n_neurons), np.int32) for c in cores])
    else:
        from backends.lava.procs.truenorth import run_truenorth  # lazy: imports lava (optional dependency)
        res = run_truenorth(cores, steps, host_inputs(image, steps), seed=image.seed, record_v=probe.size > 0)
    fired, inp, v = dense_from_result(image, res, layout, steps, probe)
    return to_results(image, LavaRaw(steps, fired, inp, probe, np.zeros_like(v), probe, v))

