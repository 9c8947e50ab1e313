"""Run images of ``truenorth`` cores: image -> :class:`~neuromap.core_kinds.truenorth.TNCore` list, host inputs, RawRun.

:func:`cores_from_image` rebuilds every core's crossbar, axon types and neuron fields from the
image arrays (docs/image-format.md, *TrueNorth cores*): core ``c``'s neuron at slot ``j`` is column
``j``; axon ``a`` is row ``a``; a synapse sets ``crossbar[a, slot(post)]``; a neuron's single route
gives ``dest_core``/``dest_axon``/``delay`` (no route: ``dest_core = -1``). Slots without a neuron
stay idle (alpha = 1, no inputs, never reached). :func:`host_inputs` turns the image's input spikes
(explicit times, and Poisson inputs drawn exactly as :mod:`emulator.inputs` draws them) into
``(tick, core, axon)`` activations at ``step + route delay``. :func:`emulate_truenorth` runs them with
:func:`emulator.truenorth.run` and returns the same :class:`emulator.raw_run.RawRun` as the Loihi-core engine
(``u`` traces are zeros: TrueNorth neurons have only V).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from emulator.inputs import InputSchedule
from emulator.raw_run import RawRun
from emulator.traffic import traffic
from emulator.truenorth import TNResult, run
from neuromap.core_kinds.truenorth import NAME, TNCore, make_core
from neuromap.errors import ImageError
from neuromap.image import Image


@dataclass
class TNLayout:
    """Where image neurons sit among the TNCores: ``core``/``slot`` (N,) int64 of every neuron."""

    core: np.ndarray
    slot: np.ndarray


def cores_from_image(image: Image) -> tuple[list[TNCore], TNLayout]:
    """The :class:`TNCore` of every core of a TrueNorth image, and the neuron layout."""
    if image.core_kinds != [NAME]:
        raise ImageError(f"image core kinds {image.core_kinds} are not truenorth (run it with the Loihi-core engine)")
    nu, C = image.neurons, image.n_cores
    core, slot = nu["core"].astype(np.int64), nu["slot"].astype(np.int64)
    n_nr = np.zeros(C, np.int64)
    np.maximum.at(n_nr, core, slot + 1)
    axp = image.cores["axon_ptr"]
    ax_of_syn = np.repeat(np.arange(image.n_axons), np.diff(image.axons["syn_ptr"]))
    post = image.synapses["post"].astype(np.int64)
    sp, rc, ra, rd = (image.routes[k] for k in ("src_ptr", "core", "axon", "delay"))
    cores = []
    for c in range(C):
        A, n = int(axp[c + 1] - axp[c]), int(n_nr[c])
        m = np.flatnonzero(core == c)
        j = slot[m]
        xb = np.zeros((A, n), bool)
        sel = core[post] == c
        xb[ax_of_syn[sel] - axp[c], slot[post[sel]]] = True
        f = {k: np.zeros(n, np.int64) for k in ("lam", "c_lambda", "epsilon", "beta", "TM", "gamma", "kappa", "R",
                                               "V0", "dest_axon")}
        f["alpha"] = np.ones(n, np.int64)
        f["dest_core"] = np.full(n, -1, np.int64)
        f["delay"] = np.ones(n, np.int64)
        f["s"], f["b"] = np.zeros((n, 4), np.int64), np.zeros((n, 4), bool)
        for k, img_k in (("lam", "tn_lambda"), ("c_lambda", "tn_c_lambda"), ("epsilon", "tn_epsilon"),
                         ("alpha", "tn_alpha"), ("beta", "tn_beta"), ("TM", "tn_TM"), ("gamma", "tn_gamma"),
                         ("kappa", "tn_kappa"), ("R", "tn_R"), ("V0", "v_init"), ("s", "tn_s"), ("b", "tn_b")):
            f[k][j] = nu[img_k][m]
        has = sp[m + 1] > sp[m]
        e = sp[m[has]]
        f["dest_core"][j[has]], f["dest_axon"][j[has]], f["delay"][j[has]] = rc[e], ra[e], rd[e]
        cores.append(make_core(xb, image.axons["tn_type"][axp[c]:axp[c + 1]], **f))
    return cores, TNLayout(core, slot)


def input_spikes(image: Image, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(step, input id) of every host input spike in ``0..steps-1``: explicit times, then Poisson inputs drawn
    as :class:`emulator.inputs.InputSchedule` draws them (the image's stream kind; one run-long chunk)."""
    p = image.inputs["poisson_p"]
    ids = np.flatnonzero(~np.isnan(p))
    prog = SimpleNamespace(seed=image.seed, poisson_stream=image.poisson_stream, spike_step=image.inputs["spike_step"],
                           spike_index=image.inputs["spike_index"].astype(np.int64),
                           poisson_ids=ids.astype(np.int64), poisson_p=p[ids])
    ptr, idx = InputSchedule(prog).chunk(0, steps)
    return np.repeat(np.arange(steps), np.diff(ptr)), idx


def host_inputs(image: Image, steps: int) -> np.ndarray:
    """(K, 3) int64 ``(tick, core, axon)``: every input spike at step t sent along each route of its input,
    active at ``t + delay`` (activations at or after ``steps`` are dropped)."""
    t, i = input_spikes(image, steps)
    sp = image.routes["src_ptr"]
    s = image.n_neurons + i
    n = sp[s + 1] - sp[s]
    e = np.repeat(sp[s], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    tick = np.repeat(t, n) + image.routes["delay"][e].astype(np.int64)
    out = np.stack([tick, image.routes["core"][e], image.routes["axon"][e]], axis=1).astype(np.int64)
    return out[out[:, 0] < steps]


def dense_from_result(image: Image, res: TNResult, layout: TNLayout, steps: int, probe: np.ndarray):
    """(fired (steps, N) bool, input spikes (steps, I) bool, V traces (steps, len(probe)) int64) of a run."""
    N, C = image.n_neurons, image.n_cores
    fired = np.zeros((steps, N), bool)
    for c in range(C):
        m = layout.core == c
        fired[:, m] = res.spikes[c][:, layout.slot[m]]
    t, i = input_spikes(image, steps)
    inp = np.zeros((steps, image.n_inputs), bool)
    inp[t, i] = True
    v = np.zeros((steps, probe.size), np.int64)
    if res.v is not None:
        for k, g in enumerate(probe):
            v[:, k] = res.v[layout.core[g]][:, layout.slot[g]]
    return fired, inp, v


def raw_from_result(image: Image, res: TNResult, layout: TNLayout, steps: int, probe: np.ndarray):
    """A :class:`emulator.RawRun` (global source ids, sorted by step then source) from a :class:`TNResult`."""
    fired, inp, v = dense_from_result(image, res, layout, steps, probe)
    tt, ss = np.nonzero(np.concatenate([fired, inp], axis=1))
    events = np.stack([tt, ss], axis=1).astype(np.int64)
    core_spikes, link = traffic(image, events)
    return RawRun(steps, events, probe, np.zeros_like(v), v, core_spikes, link)


def emulate_truenorth(image: Image, steps: int, engine: str = "numba", probe: np.ndarray | None = None):
    """Run a TrueNorth image for ``steps`` ticks (engine numba | numpy | reference); returns a RawRun
    whose ``v`` traces the probed neurons' V after each tick (default probe: the image's v probes)."""
    steps = int(steps)
    if steps < 0:
        raise ImageError(f"steps must be >= 0, got {steps}")
    cores, layout = cores_from_image(image)
    if probe is None:
        probe = v_probe(image)
    probe = np.ascontiguousarray(probe, dtype=np.int64)
    res = run(cores, steps, host_inputs(image, steps), seed=image.seed, engine=engine, record_v=probe.size > 0)
    return raw_from_result(image, res, layout, steps, probe)


def v_probe(image: Image) -> np.ndarray:
    """Global ids of the neurons whose V the image's probes record (sorted)."""
    ids = [image.population(pr.population).start + (np.arange(image.population(pr.population).size)
           if pr.neurons is None else np.asarray(pr.neurons, np.int64))
           for pr in image.probes if {"u", "v"} & set(pr.variables)]
    return np.unique(np.concatenate(ids)).astype(np.int64) if ids else np.zeros(0, np.int64)
