"""Run an image in Lava 0.10.0 on ``Loihi2SimCfg(select_tag="fixed_pt")`` and collect what the emulator reports.

Spikes of every neuron come from one ``io.sink.RingBuffer`` per LIF process, u/v of probed neurons
from ``Monitor`` processes, input spikes are the replayed raster. One Lava run per call (the build
joins disconnected parts, see :func:`backends.lava.build.tie_groups`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backends.lava.build import LavaNetwork, build_network
from backends.lava.compat import import_lava
from backends.lava.plan import LavaPlan, input_raster, plan_image
from neuromap.errors import ImageError
from neuromap.image import Image
from neuromap.validate import RunView


@dataclass
class LavaRaw:
    """Raw outputs in global indices: ``spikes`` (steps, N) bool of neurons, ``inputs`` (steps, I) bool,
    ``u``/``v`` (steps, len(probe)) int64 traces of the global neuron ids ``probe_u``/``probe_v``."""

    steps: int
    spikes: np.ndarray
    inputs: np.ndarray
    probe_u: np.ndarray
    u: np.ndarray
    probe_v: np.ndarray
    v: np.ndarray

    def events(self) -> np.ndarray:
        """(k, 2) int64 rows (step, source id), sorted by step then source (inputs are N + input id)."""
        t, s = np.nonzero(np.concatenate([self.spikes, self.inputs], axis=1))
        return np.stack([t, s], axis=1).astype(np.int64)

    def view(self) -> RunView:
        """The comparable part (:class:`neuromap.validate.RunView`)."""
        return RunView(self.steps, self.events(), {"u": (self.probe_u, self.u), "v": (self.probe_v, self.v)})


def run_network(net: LavaNetwork) -> LavaRaw:
    """Run every component of ``net`` for ``net.steps`` steps and read back spikes and probes."""
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    plan, steps = net.plan, net.steps
    spikes = np.zeros((steps, plan.n_neurons), bool)
    traces = {"u": np.zeros((steps, plan.probe_u.size), np.int64),
              "v": np.zeros((steps, plan.probe_v.size), np.int64)}
    probes = {"u": plan.probe_u, "v": plan.probe_v}
    net.root.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    try:
        for g, sink in zip(plan.groups, net.spike_sinks):
            data = np.asarray(sink.data.get())          # (size, steps)
            spikes[:, g.neurons] = data.T != 0
        for k, var, mon in net.monitors:
            g = plan.groups[k]
            data = np.asarray(mon.get_data()[net.lifs[k].name][var]).reshape(steps, g.size)
            ids = probes[var]
            pos = np.searchsorted(ids, g.neurons)
            hit = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == g.neurons)
            traces[var][:, pos[hit]] = np.rint(data[:, hit]).astype(np.int64)
    finally:
        net.root.stop()
    return LavaRaw(steps, spikes, net.raster, plan.probe_u, traces["u"], plan.probe_v, traces["v"])


def run_plan(plan: LavaPlan, steps: int) -> LavaRaw:
    """Build and run ``plan`` for ``steps`` steps (no Lava run when there is nothing to simulate)."""
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    if steps == 0 or not plan.groups:
        z = lambda n: np.zeros((steps, n), np.int64)  # noqa: E731
        return LavaRaw(steps, np.zeros((steps, plan.n_neurons), bool), input_raster(plan, steps),
                       plan.probe_u, z(plan.probe_u.size), plan.probe_v, z(plan.probe_v.size))
    return run_network(build_network(plan, steps))


def run_lava_raw(image: Image, steps: int, probe: np.ndarray | None = None) -> LavaRaw:
    """Run ``image`` in Lava for ``steps`` steps; raw arrays (see :class:`LavaRaw`).

    ``probe``: global neuron ids whose u and v are recorded (default: the image's probes)."""
    plan = plan_image(image)
    if probe is not None:
        plan.probe_u = plan.probe_v = np.unique(np.asarray(probe, dtype=np.int64))
    return run_plan(plan, steps)
