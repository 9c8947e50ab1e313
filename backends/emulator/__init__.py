"""The emulator backend: ``run(image, steps) -> Results`` on the bit-accurate Loihi-core emulator.

:class:`Results` maps the emulator's global indices back to the network's
populations. ``Results.save(path)`` writes one ``.npz`` (atomically: temp file +
rename) with these keys:

* ``spikes/<population>``: (k, 2) int64 rows ``(step, neuron)`` (population-local
  neuron index), sorted by step then neuron; one entry per population, inputs included.
* ``u/<population>``, ``v/<population>``: (steps, m) int64 traces of the probed
  neurons, value after each step (v after reset); ``neurons/<population>``: the m
  population-local indices. Only for populations with a u/v probe.
* ``readout/<population>``: (steps, m) float64 membrane voltage of a non-spiking readout population (NIR
  ``LI`` / ``CubaLI``, ``v_th`` never reached) in the network's float units, ``v / v_scale + v_reset`` of the
  compile's quantization report (:func:`readout_scales`); same neurons as ``v/<population>``.
* ``core_spikes``: (C,) int64 spikes emitted by the neurons of each core.
* ``link_spikes``: (C+1, C) int64 spike messages from core i (row C = host inputs)
  to core j (one per route entry of a spiking source).
* ``weights/<projection>``: (k, S_p) int16 stored weights of a plastic projection (image synapse order)
  after each step of ``weight_steps`` ((k,) int64); only for images with learning.
* ``steps``: int64 scalar; ``meta``: JSON string (backend, engine, image target,
  network name, source hash).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emulator import emulate
from neuromap.errors import NeuromapError
from neuromap.image import Image, load_image


@dataclass
class Results:
    """Spikes, traces and traffic counters of one run (see the module docstring for the file layout)."""

    steps: int
    spikes: dict[str, np.ndarray]
    u: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    neurons: dict[str, np.ndarray] = field(default_factory=dict)
    core_spikes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    link_spikes: np.ndarray = field(default_factory=lambda: np.zeros((1, 0), np.int64))
    meta: dict = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    readout: dict[str, np.ndarray] = field(default_factory=dict)

    def spike_raster(self, population: str, size: int) -> np.ndarray:
        """(steps, size) 0/1 int8 raster of a population."""
        r = np.zeros((self.steps, size), np.int8)
        s = self.spikes[population]
        r[s[:, 0], s[:, 1]] = 1
        return r

    def save(self, path: str | os.PathLike) -> Path:
        """Write the documented ``.npz`` atomically."""
        path = Path(path)
        arrays = {"steps": np.int64(self.steps), "meta": np.array(json.dumps(self.meta)),
                  "core_spikes": self.core_spikes, "link_spikes": self.link_spikes}
        for name, s in self.spikes.items():
            arrays[f"spikes/{name}"] = s
        for var in ("u", "v", "neurons", "weights", "readout"):
            for name, a in getattr(self, var).items():
                arrays[f"{var}/{name}"] = a
        if self.weights:
            arrays["weight_steps"] = self.weight_steps
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def load_results(path: str | os.PathLike) -> Results:
    """Read a file written by :meth:`Results.save`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise NeuromapError(f"{path}: not a results file ({type(e).__name__})") from None
    grp = lambda pre: {k[len(pre) + 1:]: v for k, v in d.items() if k.startswith(pre + "/")}  # noqa: E731
    return Results(int(d["steps"]), grp("spikes"), grp("u"), grp("v"), grp("neurons"),
                   d["core_spikes"], d["link_spikes"], json.loads(str(d["meta"])), grp("weights"),
                   d.get("weight_steps", np.zeros(0, np.int64)), grp("readout"))


def readout_scales(image: Image) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Population -> per-neuron ``(v_scale, v_reset)`` of every non-spiking readout population, from the compile's
    quantization report (``options.quantization.populations`` entries with ``readout``; NaN scale for neurons of
    the population that are not readouts)."""
    q = (image.options or {}).get("quantization") or {}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for p in q.get("populations") or []:
        if not p.get("readout"):
            continue
        size = image.population(p["name"]).size
        s, r = out.setdefault(p["name"], (np.full(size, np.nan), np.zeros(size)))
        idx = slice(None) if p.get("neurons") is None else np.asarray(p["neurons"], np.int64)
        s[idx], r[idx] = float(p["v_scale"]), float(p.get("v_reset") or 0.0)
    return out


def add_readouts(image: Image, res: Results) -> Results:
    """Fill ``res.readout`` (float voltages of the probed neurons of readout populations) from ``res.v``."""
    for name, (s, r) in readout_scales(image).items():
        if name in res.v:
            n = res.neurons[name]
            res.readout[name] = res.v[name] / s[n] + r[n]
    return res


def weights_by_name(image: Image, weights: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Recorded weights keyed by projection index -> keyed by projection name."""
    return {image.projections[k].name: w for k, w in weights.items()}


def run(image: Image | str | os.PathLike, steps: int, engine: str = "numba", progress=None,
        weight_every: int | None = None, threads: int | None = None) -> Results:
    """Run a compiled image (or an image directory) for ``steps`` steps on the emulator
    (``progress(done_steps, steps)`` after each chunk, see :mod:`neuromap.progress`); plastic
    projections' weights are recorded every ``weight_every`` steps and after the last; ``threads``: see
    :func:`emulator.emulate` (same results for any value)."""
    img = image if isinstance(image, Image) else load_image(image)
    raw = emulate(img, steps, engine, progress=progress, weight_every=weight_every, threads=threads)
    return results_from_raw(img, raw, engine)


def results_from_raw(img: Image, raw, engine: str, n_neurons: int | None = None) -> Results:
    """The :class:`Results` of an emulator run (:class:`emulator.RawRun`, global indices) of ``img``; reads only
    the image's populations, probes and metadata (``n_neurons``: N when ``img`` holds one shard's neurons,
    :mod:`emulator.sharded`)."""
    N = img.n_neurons if n_neurons is None else int(n_neurons)
    res = Results(steps=raw.steps, spikes={}, core_spikes=raw.core_spikes, link_spikes=raw.link_spikes,
                  meta={"backend": "emulator", "engine": engine, "target": img.target,
                        "network": img.network_name, "source_hash": img.source_hash})
    src = raw.spikes[:, 1]
    for pop in img.populations:
        base = pop.start + (0 if pop.kind == "neuron" else N)
        m = (src >= base) & (src < base + pop.size)
        res.spikes[pop.name] = np.stack([raw.spikes[m, 0], src[m] - base], axis=1).astype(np.int64)
    res.weights, res.weight_steps = weights_by_name(img, raw.weights), raw.weight_steps
    col = {int(g): j for j, g in enumerate(raw.probe)}
    for pr in img.probes:
        if not {"u", "v"} & set(pr.variables):
            continue  # spikes are always recorded for every population
        pop = img.population(pr.population)
        local = np.arange(pop.size) if pr.neurons is None else np.asarray(pr.neurons, np.int64)
        cols = [col[pop.start + int(i)] for i in local]
        for var in ("u", "v"):
            if var in pr.variables:
                getattr(res, var)[pop.name] = (raw.u if var == "u" else raw.v)[:, cols]
                res.neurons[pop.name] = local
    return add_readouts(img, res)
