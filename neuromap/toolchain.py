"""Compile with the runtime at hand: the application-layer entry point of the compiler.

The compiler (:mod:`neuromap.compiler`) imports no runtime; the passes and analyses that run an image
(placement's ``rates: auto`` traffic estimate, the fidelity report's float-vs-chip rate sample) call the
``runner`` they are given. :func:`compile_network` here is :func:`neuromap.compiler.compile_network`
with the bit-exact core emulator as that runner (:func:`emulator_runner`): what the CLI, ``neuromap
compare``, the examples and the benchmarks call.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from emulator import emulate
from neuromap.compiler import CompileResult, compile_network as compile_with_runner
from neuromap.image import Image
from neuromap.network import Network


def emulator_runner(image: Image, steps: int, engine: str = "numba") -> np.ndarray:
    """Spikes of ``image`` run ``steps`` steps on the emulator (``engine`` numba | numpy; results do not
    depend on it), no probes: an (n, 2) int array of (step, source id) rows
    (:data:`~neuromap.compiler.result.ImageRunner`)."""
    return emulate(image, int(steps), engine, probe=np.zeros(0, np.int64)).spikes


def compile_network(network: Network, target: Any = "loihi", **options) -> CompileResult:
    """:func:`neuromap.compiler.compile_network` with the emulator as the image runner (same options)."""
    return compile_with_runner(network, target, runner=emulator_runner, **options)
