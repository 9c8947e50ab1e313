"""The differential fixtures of tests/fixtures/frameworks (written by tests/fixtures/make_framework_fixtures.py
with the frameworks themselves): load one, run neuromap's float reference on the recorded input spikes, and
compare spike counts per neuron with the framework's."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuromap.nir_io import _pop_name, read_nir
from neuromap.simulator import simulate

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "frameworks"
NAMES = sorted(p.stem for p in DIR.glob("*.npz"))


@dataclass
class LayerCounts:
    layer: str                 # NIR node name
    population: str            # neuromap population
    framework: np.ndarray      # spikes per neuron, the framework's
    neuromap: np.ndarray       # spikes per neuron, neuromap's float reference

    @property
    def total_rel_error(self) -> float:
        return abs(int(self.neuromap.sum()) - int(self.framework.sum())) / max(int(self.framework.sum()), 1)

    @property
    def neuron_rel_error(self) -> float:
        """sum over neurons of |count difference| / total framework count (0: every neuron's count equal)."""
        return float(np.abs(self.neuromap - self.framework).sum()) / max(int(self.framework.sum()), 1)


def load(name: str) -> tuple[Path, np.ndarray, dict[str, np.ndarray], dict]:
    with np.load(DIR / f"{name}.npz", allow_pickle=False) as z:
        spikes = {k[len("spikes/"):]: z[k] for k in z.files if k.startswith("spikes/")}
        return DIR / f"{name}.nir", z["input"], spikes, json.loads(str(z["meta"]))


def compare(name: str, **read_kwargs) -> list[LayerCounts]:
    """neuromap's float reference on the fixture's input raster vs the framework's spikes, per spiking layer."""
    path, raster, spikes, _ = load(name)
    t_idx, n_idx = np.nonzero(raster)
    probe = read_nir(path, **read_kwargs)
    (inp,) = [p for p in probe.populations.values() if p.model == "poisson"]
    times = [[] for _ in range(inp.size)]
    for t, i in zip(t_idx.tolist(), n_idx.tolist()):
        times[i].append(t * probe.dt)
    net = read_nir(path, inputs={"*": {"model": "spike_source", "times": times}}, **read_kwargs)
    res = simulate(net, raster.shape[0])
    out = []
    for layer, s in spikes.items():
        pop = _pop_name(layer)
        size = net.populations[pop].size
        out.append(LayerCounts(layer, pop, s.sum(0).astype(np.int64), res.spike_counts(pop, size)))
    return out
