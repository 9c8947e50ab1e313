"""The engines that run a Loihi-style (``loihi_lif``) hardware image, behind one interface: the ``engine`` and
``emulator_engine`` fixtures of tests/conftest.py hand a test one :class:`Engine` per engine, so the same
conformance test (hand-computed cases, delays, refractory, random images against the scalar oracle of
tests/oracles) runs on each of them. Also the lists behind the ``tn_engine`` (TrueNorth cores) and
``loihi_learning`` (one Loihi learning step) fixtures.

- ``numpy``, ``numba``: the emulator's two engines (:func:`emulator.emulate`).
- ``lava``: the Lava backend (:func:`backends.lava.run.run_lava_raw`: the image planned into Lava 0.10
  processes and run with ``Loihi2SimCfg(select_tag="fixed_pt")``, the path of ``neuromap validate``); it
  never calls the emulator. Needs lava-nc; each run spawns Lava's runtime (~0.5 s for a tiny image).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backends.lava.run import run_lava_raw
from emulator import emulate
from neuromap.learning_engines import loihi_step
from tests.oracles import loihi_learning as loihi_reference

#: every engine the ``engine`` fixture runs, in its order
ENGINE_NAMES = ("numpy", "numba", "lava")
#: the emulator's engines (the ``emulator_engine`` fixture)
EMULATOR_ENGINES = ("numpy", "numba")
#: the TrueNorth core emulator's engines (``emulator.truenorth.run``; the ``tn_engine`` fixture): numpy, numba
#: and ``reference``, the scalar oracle written from Cassidy et al. 2013
TN_ENGINES = ("numpy", "numba", "reference")
#: implementations of one Loihi learning step (the ``loihi_learning`` fixture): ``engine``, the image engine's
#: numba kernel (``loihi_step.learning_step``), and ``reference``, the array reference written from Lava's
#: source (tests/oracles/loihi_learning.py)
LOIHI_LEARNING = ("engine", "reference")


def loihi_learning_step(name: str):
    """``learning_step(cfg, state, weights, pre, post, t)`` of implementation ``name`` (:data:`LOIHI_LEARNING`)."""
    if name == "engine":
        return loihi_step.learning_step
    if name == "reference":
        return loihi_reference.learning_step
    raise ValueError(f"unknown Loihi learning implementation {name!r} (one of {', '.join(LOIHI_LEARNING)})")


@dataclass(frozen=True)
class EngineRun:
    """One run of an image, in global ids.

    spikes: (k, 2) int64 rows (step, source id) sorted by step then source (sources: neurons 0..N-1,
    then inputs N..N+I-1, an input with several events in a step once per event); u, v: (steps,
    len(probe)) int64 neuron state after each step (v after reset); probe: the traced neuron ids."""

    spikes: np.ndarray
    u: np.ndarray
    v: np.ndarray
    probe: np.ndarray

    def spike_steps(self, neuron: int = 0) -> list[int]:
        """The steps at which global source ``neuron`` spiked (ascending)."""
        return self.spikes[self.spikes[:, 1] == neuron, 0].tolist()


@dataclass(frozen=True)
class Engine:
    """One engine by name (``numpy``, ``numba`` or ``lava``)."""

    name: str

    @property
    def is_lava(self) -> bool:
        return self.name == "lava"

    @property
    def per_neuron_vth(self) -> bool:
        """Whether images with a different ``vth`` per neuron run: the Lava backend needs one vth per
        LIF process when a projection has a negative weight exponent (dendrite sums), so random tests
        keep the compiled per-population thresholds there."""
        return not self.is_lava

    def examples(self, n: int, lava: int) -> int:
        """A hypothesis example budget: ``n`` on the emulator's engines, ``lava`` on Lava (each Lava run
        starts Lava's runtime; the default suite stays fast)."""
        return lava if self.is_lava else n

    def run(self, image, steps: int, probe: np.ndarray | None = None) -> EngineRun:
        """Run ``image`` for ``steps`` steps from its initial state; u/v of ``probe`` (ascending unique global
        neuron ids; default: every neuron)."""
        probe = np.arange(image.n_neurons) if probe is None else np.asarray(probe, np.int64)
        if probe.size and not np.all(np.diff(probe) > 0):
            raise ValueError("probe: ascending unique neuron ids (Lava records them in that order)")
        if self.is_lava:
            raw = run_lava_raw(image, steps, probe=probe)
            return EngineRun(raw.events(), raw.u.astype(np.int64), raw.v.astype(np.int64), probe)
        raw = emulate(image, steps, engine=self.name, probe=probe)
        return EngineRun(raw.spikes, raw.u, raw.v, probe)
