"""Run an image in Lava 0.10.0 on ``Loihi2SimCfg(select_tag="fixed_pt")`` and collect what the emulator reports.

Spikes of every neuron come from one ``io.sink.RingBuffer`` per LIF process, u/v of probed neurons
from ``Monitor`` processes, input spikes are the replayed raster. One Lava run per call (the build
joins disconnected parts, see :func:`backends.lava.build.tie_groups`).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from backends.emulator import Results, weights_by_name
from backends.lava.build import LavaNetwork, build_network
from backends.lava.compat import import_lava
from backends.lava.plan import LavaPlan, input_raster, plan_image, plastic_positions
from backends.lava.results import LavaRaw, to_results
from backends.lava.truenorth_run import run_truenorth_image
from neuromap.core_kinds import image_core_kind, loihi_lif, truenorth
from neuromap.errors import BackendError, ImageError, NeuromapError
from neuromap.image import Image
from neuromap.progress import set_label


@dataclass
class LavaStage:
    """What a Lava run is doing now (``now``: e.g. ``"creating process 'p:inp->h'"``), for error messages."""

    now: str = "planning the processes"


@contextlib.contextmanager
def lava_failures(image: Image):
    """Turn any exception raised inside Lava (or by an image Lava cannot hold) into one
    :class:`~neuromap.errors.BackendError` line naming the image, the stage (process) that failed and the
    exception; neuromap's own errors pass through unchanged. Yields a :class:`LavaStage` to update."""
    stage = LavaStage()
    try:
        yield stage
    except NeuromapError:
        raise
    except Exception as e:   # noqa: BLE001 - every Lava-side failure becomes one line (exit 2)
        what = " ".join(str(e).split()) or "no message"
        if len(what) > 200:
            what = what[:197] + "..."
        raise BackendError(f"image {image.network_name!r} (target {image.target}): Lava failed while {stage.now}: "
                           f"{type(e).__name__}: {what} (the emulator runs this image: `neuromap run BUILD "
                           "--backend emulator`; rerun with --debug for the traceback and report it)") from e


def _weight_slots(plan: LavaPlan, image_syn_proj: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(connection index, projection, position of each entry in its projection's image synapse order)."""
    return [(j, c.proj, plastic_positions(image_syn_proj, c)) for j, c in enumerate(plan.connections) if c.learning]


def read_weights(net: LavaNetwork, slots, sizes: dict[int, int]) -> dict[int, np.ndarray]:
    """Current stored weights of every plastic projection (image synapse order, int16)."""
    out = {k: np.zeros(n, np.int16) for k, n in sizes.items()}
    for j, k, pos in slots:
        c = net.plan.connections[j]
        w = net.connections[j].weights.get()
        w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
        out[k][pos] = w[c.rows, c.cols] if w.ndim == 2 else w      # 1-D: NeuromapPlasticSparse, entry order
    return out


def run_network(net: LavaNetwork, weight_every: int | None = None, syn_proj: np.ndarray | None = None,
                progress=None, stage: LavaStage | None = None) -> LavaRaw:
    """Run every component of ``net`` for ``net.steps`` steps and read back spikes and probes.

    Plastic connections (``syn_proj``: projection of every image synapse): weights are read every
    ``weight_every`` steps and after the last (Lava runs in segments of that many steps).
    ``progress(done_steps, steps)`` (:mod:`neuromap.progress`): Lava runs in about 20 segments, reported
    after each."""
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    plan, steps = net.plan, net.steps
    spikes = np.zeros((steps, plan.n_neurons), bool)
    traces = {"u": np.zeros((steps, plan.probe_u.size), np.int64),
              "v": np.zeros((steps, plan.probe_v.size), np.int64)}
    probes = {"u": plan.probe_u, "v": plan.probe_v}
    slots = _weight_slots(plan, syn_proj) if syn_proj is not None else []
    sizes = {k: int(np.count_nonzero(syn_proj == k)) for _, k, _ in slots}
    every = int(weight_every) if weight_every and slots else steps
    ends = sorted(set(range(every, steps, every)) | {steps})
    weight_ends = set(ends)
    if progress is not None:
        ends = sorted(set(ends) | set(range(-(-steps // 20), steps, -(-steps // 20))))
    rec_steps, rec = [], []
    done = 0
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    stage = stage or LavaStage()
    stage.now = f"compiling and running {len(net.lifs)} LIF and {len(net.connections)} connection processes"
    if progress is not None:              # the first segment compiles and starts Lava's processes: seconds
        set_label(progress, f"starting Lava ({len(net.lifs) + len(net.connections)} processes)")
        progress(0, steps)
    try:
        for end in ends:
            net.root.run(condition=RunSteps(num_steps=end - done), run_cfg=cfg)
            if done == 0:
                set_label(progress, "Lava")
            done = end
            if progress is not None:
                progress(end, steps)
            if slots and end in weight_ends:
                rec_steps.append(end - 1)
                rec.append(read_weights(net, slots, sizes))
        for g, sink in zip(plan.groups, net.spike_sinks):
            stage.now = f"reading the spikes of LIF process {g.name!r}"
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
    weights = {k: np.stack([r[k] for r in rec]) for k in sizes}
    return LavaRaw(steps, spikes, net.raster, plan.probe_u, traces["u"], plan.probe_v, traces["v"],
                   np.asarray(rec_steps, np.int64), weights)


def run_plan(plan: LavaPlan, steps: int, weight_every: int | None = None,
             syn_proj: np.ndarray | None = None, progress=None, stage: LavaStage | None = None) -> LavaRaw:
    """Build and run ``plan`` for ``steps`` steps (no Lava run when there is nothing to simulate)."""
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    if steps == 0 or not plan.groups:
        z = lambda n: np.zeros((steps, n), np.int64)  # noqa: E731
        return LavaRaw(steps, np.zeros((steps, plan.n_neurons), bool), input_raster(plan, steps),
                       plan.probe_u, z(plan.probe_u.size), plan.probe_v, z(plan.probe_v.size))
    stage = stage or LavaStage()
    set_label(progress, f"building Lava processes ({len(plan.groups)} LIF groups)")
    return run_network(build_network(plan, steps, stage), weight_every, syn_proj, progress, stage)


def run_lava_raw(image: Image, steps: int, probe: np.ndarray | None = None,
                 weight_every: int | None = None, progress=None) -> LavaRaw:
    """Run ``image`` in Lava for ``steps`` steps; raw arrays (see :class:`LavaRaw`).

    ``probe``: global neuron ids whose u and v are recorded (default: the image's probes).
    ``weight_every``: read the weights of plastic projections every that many steps (and after the last).
    A failure inside Lava is a one-line :class:`~neuromap.errors.BackendError` (:func:`lava_failures`)."""
    with lava_failures(image) as stage:
        plan = plan_image(image)
        if probe is not None:
            plan.probe_u = plan.probe_v = np.unique(np.asarray(probe, dtype=np.int64))
        plastic = any(c.learning for c in plan.connections)
        return run_plan(plan, steps, weight_every, image.synapse_projections() if plastic else None, progress,
                        stage)


def run(image: Image, steps: int, weight_every: int | None = None, progress=None) -> Results:
    """Run ``image`` in Lava (fixed_pt) for ``steps`` steps on the runner of its core kind (:data:`RUNNERS`);
    same :class:`Results` as the emulator's ``run`` (plastic projections' weights every ``weight_every`` steps
    and after the last; ``progress`` as in :func:`run_network`, ``loihi_lif`` images only)."""
    kind = image_core_kind(image).name
    runner = RUNNERS.get(kind)
    if runner is None:
        raise ImageError(f"the Lava backend cannot run core kind {kind!r} (it runs {', '.join(RUNNERS)})")
    return runner(image, steps, weight_every, progress)


def run_loihi_lif(image: Image, steps: int, weight_every: int | None = None, progress=None) -> Results:
    """:func:`run` for ``loihi_lif`` cores: Lava's LIF and Dense/Sparse (or learning) processes."""
    raw = run_lava_raw(image, steps, weight_every=weight_every, progress=progress)
    res = to_results(image, raw)
    res.weights, res.weight_steps = weights_by_name(image, raw.weights), raw.weight_steps
    return res


def _run_truenorth(image: Image, steps: int, weight_every: int | None = None, progress=None) -> Results:
    """:func:`run` for ``truenorth`` cores (:mod:`backends.lava.truenorth_run`; no learning, no progress)."""
    with lava_failures(image) as stage:
        stage.now = f"running {image.n_cores} TrueNorthCore processes"
        return run_truenorth_image(image, steps)


#: core kind name (:data:`neuromap.core_kinds.CORE_KINDS`) -> its Lava runner
#: ``(image, steps, weight_every, progress) -> Results`` (builds the processes and runs them)
RUNNERS = {loihi_lif.NAME: run_loihi_lif, truenorth.NAME: _run_truenorth}
