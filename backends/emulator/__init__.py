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
from emulator.source_ranges import rows_in_ranges
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
        return save_npz(path, arrays)


def save_npz(path: str | os.PathLike, arrays: dict) -> Path:
    """Write ``arrays`` as the ``.npz`` ``path`` atomically (temp file + rename)."""
    path = Path(path)
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
    """Read a file written by :meth:`Results.save`, or the index of the per-rank result files of an MPI run
    (:mod:`backends.emulator.parts`: the parts are checked and merged into the same :class:`Results`)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise NeuromapError(f"{path}: not a results file ({type(e).__name__})") from None
    if "format" in d:
        from backends.emulator import parts  # lazy: per-rank results only (and parts imports this module)

        return parts.load(path, d)
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
    return _add_readouts(readout_scales(image), res)


def _add_readouts(scales: dict, res: Results) -> Results:
    for name, (s, r) in scales.items():
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
    return results_of(result_layout(img, raw.probe, engine, n_neurons), raw)


@dataclass
class ResultLayout:
    """What turns a :class:`emulator.RawRun` (global indices) into :class:`Results` without the image: the
    populations' source ranges, the probed columns, the readout scales, the plastic projections' names and the
    results' ``meta``. JSON-able (:meth:`to_json`): the index of per-rank result files holds it."""

    n_neurons: int
    n_cores: int
    spikes: list            # [population, first source id, size]
    traces: list            # [population, variables, population-local neurons, probe columns]
    readout: dict           # population -> [v_scale list, v_reset list] (:func:`readout_scales`)
    weights: dict           # projection index (str) -> name, for every projection that learns
    meta: dict

    def to_json(self) -> str:
        return json.dumps(vars(self))

    @classmethod
    def from_json(cls, text: str) -> ResultLayout:
        return cls(**json.loads(text))


def result_layout(img: Image, probe: np.ndarray, engine: str, n_neurons: int | None = None) -> ResultLayout:
    """The :class:`ResultLayout` of runs of ``img`` tracing the global neurons ``probe``."""
    N = img.n_neurons if n_neurons is None else int(n_neurons)
    col = {int(g): j for j, g in enumerate(probe)}
    traces = []
    for pr in img.probes:
        if not {"u", "v"} & set(pr.variables):
            continue  # spikes are always recorded for every population
        pop = img.population(pr.population)
        local = np.arange(pop.size) if pr.neurons is None else np.asarray(pr.neurons, np.int64)
        traces.append([pop.name, [x for x in ("u", "v") if x in pr.variables], [int(i) for i in local],
                       [col[pop.start + int(i)] for i in local]])
    return ResultLayout(
        n_neurons=N, n_cores=int(img.n_cores),
        spikes=[[p.name, int(p.start + (0 if p.kind == "neuron" else N)), int(p.size)] for p in img.populations],
        traces=traces, readout={k: [s.tolist(), r.tolist()] for k, (s, r) in readout_scales(img).items()},
        weights={str(k): pm.name for k, pm in enumerate(img.projections) if pm.learning},
        meta={"backend": "emulator", "engine": engine, "target": img.target, "network": img.network_name,
              "source_hash": img.source_hash})


def results_of(layout: ResultLayout, raw) -> Results:
    """The :class:`Results` of ``raw`` (:class:`emulator.RawRun`) laid out by ``layout``."""
    res = Results(steps=raw.steps, spikes={}, core_spikes=raw.core_spikes, link_spikes=raw.link_spikes,
                  meta=dict(layout.meta))
    for (name, _, _), rows in zip(layout.spikes, rows_in_ranges(raw.spikes, [(b, n) for _, b, n in layout.spikes])):
        res.spikes[name] = rows
    res.weights = {layout.weights[str(k)]: w for k, w in raw.weights.items()}
    res.weight_steps = raw.weight_steps
    for name, variables, local, cols in layout.traces:
        for var in variables:
            getattr(res, var)[name] = (raw.u if var == "u" else raw.v)[:, np.asarray(cols, np.int64)]
            res.neurons[name] = np.asarray(local, np.int64)
    return _add_readouts({k: (np.asarray(s, np.float64), np.asarray(r, np.float64))
                          for k, (s, r) in layout.readout.items()}, res)
